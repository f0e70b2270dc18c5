# dev: cheapest setup that still exercises the whole path; auto-applied on merge.
# The environment's name is its folder's (hubdeploy passes -var environment=<env>): never set environment here.
aws_region = "us-east-1"

# serverless: scales to zero between tests; no instance, volume key or blue/green
serverless = {
  memory_size_in_mb = 3072
  max_concurrency   = 5
}

auth_mode                   = "cognito"
lambda_reserved_concurrency = 5
log_retention_days          = 30
throttle = {
  rate_limit  = 5
  burst_limit = 10
  daily_quota = 2000
}
