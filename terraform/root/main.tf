# The environment is an input (-var environment=<env>, set by the runner from the env folder name), so
# the same code serves dev, staging and prod; only terraform/envs/<env>/ differs.
locals {
  name = "hubdeploy-${var.environment}"
}

module "endpoint" {
  source = "../modules/sagemaker-endpoint"

  name                  = local.name
  hub_model_id          = var.hub_model_id
  hub_revision          = var.hub_revision
  model_data_url        = var.model_data_url
  model_artifact_sha256 = var.model_artifact_sha256
  git_commit            = var.git_commit
  image_uri             = var.image_uri
  instance_type         = var.instance_type
  instance_count        = var.instance_count
  serverless            = var.serverless
  autoscaling           = var.autoscaling
  blue_green            = var.blue_green
  log_retention_days    = var.log_retention_days
}

module "api" {
  source = "../modules/inference-api"

  name                       = local.name
  endpoint_name              = module.endpoint.endpoint_name
  endpoint_arn               = module.endpoint.endpoint_arn
  lambda_s3_bucket           = var.artifact_bucket
  lambda_s3_key              = var.lambda_s3_key
  lambda_source_code_hash    = var.lambda_source_code_hash
  reserved_concurrency       = var.lambda_reserved_concurrency
  auth_mode                  = var.auth_mode
  throttle                   = var.throttle
  manage_api_gateway_account = var.manage_api_gateway_account
  log_retention_days         = var.log_retention_days
  deletion_protection        = var.deletion_protection
  tags = {
    "hubdeploy:lambda-sha256" = var.lambda_artifact_sha256
  }
}
