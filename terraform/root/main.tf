# Every role the modules create carries the account's permissions boundary (terraform/account/boundary.tf);
# the GitHub apply role may create roles only with it. Looked up by name, not computed: an account where
# terraform/account was never applied fails at plan ("no IAM policy found"), not halfway through an apply.
data "aws_iam_policy" "stack_boundary" {
  name = var.permissions_boundary_policy
}

# The environment is an input (-var environment=<env>, set by the runner from the env folder name), so
# the same code serves dev, staging and prod; only terraform/envs/<env>/ differs.
locals {
  name = "hubdeploy-${var.environment}"

  # Request limits and the model server's worker/thread layout per instance type (serverless: per memory
  # size), derived from a measured worst case so the largest accepted request answers within the Lambda's
  # read timeout: request-limits.json, README "Request limits and timeouts". instance_type's validation
  # refuses a type the table does not list.
  request_limits = jsondecode(file("${path.module}/request-limits.json"))
  sizing_key     = var.serverless != null ? "serverless-${var.serverless.memory_size_in_mb}" : var.instance_type
  sizing         = local.request_limits.derived[local.sizing_key]
}

module "endpoint" {
  source = "../modules/sagemaker-endpoint"

  name                     = local.name
  hub_model_id             = var.hub_model_id
  hub_revision             = var.hub_revision
  model_data_url           = var.model_data_url
  model_artifact_sha256    = var.model_artifact_sha256
  image_uri                = var.image_uri
  instance_type            = var.instance_type
  instance_count           = var.instance_count
  precision                = var.precision
  serverless               = var.serverless
  autoscaling              = var.autoscaling
  blue_green               = var.blue_green
  log_retention_days       = var.log_retention_days
  permissions_boundary_arn = data.aws_iam_policy.stack_boundary.arn
  # SAGEMAKER_MODEL_SERVER_WORKERS, HUBDEPLOY_NUM_THREADS & co. for the instance's vCPUs
  environment_variables = local.sizing.container_environment
  # the variant's current count, read by `hubdeploy plan` (hubdeploy.infra.envroot)
  observed_instance_count = var.observed_instance_count
}

module "api" {
  source = "../modules/inference-api"

  name                     = local.name
  endpoint_name            = module.endpoint.endpoint_name
  endpoint_arn             = module.endpoint.endpoint_arn
  lambda_s3_bucket         = var.artifact_bucket
  lambda_s3_key            = var.lambda_s3_key
  lambda_source_code_hash  = var.lambda_source_code_hash
  reserved_concurrency     = var.lambda_reserved_concurrency
  auth_mode                = var.auth_mode
  throttle                 = var.throttle
  log_retention_days       = var.log_retention_days
  deletion_protection      = var.deletion_protection
  permissions_boundary_arn = data.aws_iam_policy.stack_boundary.arn
  # MAX_TEXTS/MAX_TEXT_CHARS/MAX_BODY_BYTES and the Lambda timeout that the worst case was derived against
  limits          = local.sizing.limits
  timeout_seconds = local.request_limits.timeouts.lambda_timeout_seconds
  tags = {
    "hubdeploy:lambda-sha256" = var.lambda_artifact_sha256
  }
}
