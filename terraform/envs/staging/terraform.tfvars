# staging: production-shaped (instances, KMS volume, blue/green) at minimum size.
# The environment's name is its folder's (hubdeploy passes -var environment=<env>): never set environment here.
aws_region = "us-east-1"

instance_type  = "ml.m5.large"
instance_count = 1

# fp32, or int8: Linear layers quantized at load, faster on CPU; CPU instance types only, and `hubdeploy evaluate`
# passes int8 only where it agrees with fp32 (model-gates.toml min_int8_agreement; README "Precision").
precision = "fp32"

blue_green = {
  traffic_routing             = "ALL_AT_ONCE"
  wait_interval_in_seconds    = 120
  termination_wait_in_seconds = 60
}

auth_mode                   = "cognito"
lambda_reserved_concurrency = null # unreserved; reserve only after a Lambda quota increase (`hubdeploy bootstrap` checks it fits)
log_retention_days          = 90
