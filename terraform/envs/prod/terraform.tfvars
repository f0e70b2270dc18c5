# prod: two instances across AZs, autoscaling on invocations, canary blue/green with auto-rollback.
# The environment's name is its folder's (hubdeploy passes -var environment=<env>): never set environment here.
aws_region = "us-east-1"

instance_type  = "ml.m5.xlarge"
instance_count = 2

# fp32, or int8: Linear layers quantized at load, faster on CPU; CPU instance types only, and `hubdeploy evaluate`
# passes int8 only where it agrees with fp32 (model-gates.toml min_int8_agreement; README "Precision").
precision = "fp32"

autoscaling = {
  min_capacity                    = 2
  max_capacity                    = 6
  target_invocations_per_instance = 300
}

blue_green = {
  traffic_routing             = "CANARY"
  canary_percent              = 10
  wait_interval_in_seconds    = 600
  termination_wait_in_seconds = 300
}

auth_mode                   = "cognito"
lambda_reserved_concurrency = null # unreserved; reserve only after a Lambda quota increase (`hubdeploy bootstrap` checks it fits)
log_retention_days          = 365
# Off on purpose: with it on, `destroy.yml` would delete the endpoint and then fail on the user pool,
# leaving prod half destroyed. Prod's guard is the destroy workflow's (typed confirmation, allow-prod,
# the prod Environment's reviewers).
deletion_protection = false
throttle = {
  rate_limit  = 50
  burst_limit = 100
}
