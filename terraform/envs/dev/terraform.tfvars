# dev: cheapest setup that still exercises the whole path; auto-applied on merge.
# The environment's name is its folder's (hubdeploy passes -var environment=<env>): never set environment here.
aws_region = "us-east-1"

# One ml.t2.medium (2 vCPU, 4 GiB, burstable): the smallest real-time instance, enough for BERT-base in the
# stock Hugging Face DLC; its monthly cost is on the PR comment (scripts/hubdeploy/data/prices). Serverless would
# need a slim image of your own (image_uri): the stock DLC is not built for its 10 GB image limit.
instance_type  = "ml.t2.medium"
instance_count = 1

# fp32, or int8: Linear layers quantized at load, faster on CPU; CPU instance types only, and `hubdeploy evaluate`
# passes int8 only where it agrees with fp32 (model-gates.toml min_int8_agreement; README "Precision").
precision = "fp32"

auth_mode                   = "cognito"
lambda_reserved_concurrency = null # unreserved; reserve only after a Lambda quota increase (`hubdeploy bootstrap` checks it fits)
log_retention_days          = 30
throttle = {
  rate_limit  = 5
  burst_limit = 10
  daily_quota = 2000
}
