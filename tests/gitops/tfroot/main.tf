# The serving chain of terraform/root, for the gitops tests (realplans.py): the real sagemaker-endpoint
# module, called with exactly the inputs terraform/root gives it, applied to the emulator so the tests
# summarise and render real `terraform show -json` output (pin change, resize, destroy, no-op). Two
# test-only resources stand for what the real modules cannot provide on demand: a sensitive value that
# must never be shown (aws_ssm_parameter.secret) and a resource a scenario destroys, which the comment
# must warn about (aws_cloudwatch_log_group.this). The API module is left out: it needs a published
# lambda.zip and adds nothing the summary reads.
terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

variable "endpoint_url" {
  description = "The emulator's URL."
  type        = string
}

variable "hub_model_id" {
  description = "Hub repository id (the pin)."
  type        = string
  default     = "yiyanghkust/finbert-tone"
}

variable "hub_revision" {
  description = "Hub revision (the pin)."
  type        = string
}

variable "model_data_url" {
  description = "s3:// URL of model.tar.gz, as `hubdeploy publish` names it."
  type        = string
}

variable "model_artifact_sha256" {
  description = "sha256 of model.tar.gz."
  type        = string
}

variable "git_commit" {
  description = "Commit that produced the artifacts (run metadata, not desired state)."
  type        = string
  default     = "0000000000000000000000000000000000000000"
}

variable "instance_type" {
  description = "Endpoint instance type."
  type        = string
  default     = "ml.m5.large"
}

variable "api_secret" {
  description = "A secret the plan must never show (test-only)."
  type        = string
  sensitive   = true
  default     = "s3cr3t-value-never-shown"
}

variable "with_logs" {
  description = "Whether the test-only log group exists (false destroys it: a warning in the comment)."
  type        = bool
  default     = true
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = false
  s3_use_path_style           = true
  max_retries                 = 2
  endpoints {
    cloudwatch = var.endpoint_url
    iam        = var.endpoint_url
    kms        = var.endpoint_url
    logs       = var.endpoint_url
    sagemaker  = var.endpoint_url
    ssm        = var.endpoint_url
    sts        = var.endpoint_url
  }

  # as terraform/root/providers.tf, for environment = "dev"
  default_tags {
    tags = {
      "hubdeploy:environment" = "dev"
      "hubdeploy:managed-by"  = "terraform"
      "hubdeploy:repository"  = "hubdeploy"
    }
  }
}

# terraform/root/main.tf's module "endpoint" with dev's inputs, provisioned (the comment's instance
# columns); the name stands for "hubdeploy-${var.environment}".
module "endpoint" {
  source = "../../../terraform/modules/sagemaker-endpoint"

  name                  = "dev-finbert"
  hub_model_id          = var.hub_model_id
  hub_revision          = var.hub_revision
  model_data_url        = var.model_data_url
  model_artifact_sha256 = var.model_artifact_sha256
  image_uri             = null
  instance_type         = var.instance_type
  instance_count        = 1
  serverless            = null
  autoscaling           = null
  blue_green            = null
  log_retention_days    = 30
}

resource "aws_ssm_parameter" "secret" {
  name  = "/hubdeploy/gitops-test/secret"
  type  = "SecureString"
  value = var.api_secret
}

resource "aws_cloudwatch_log_group" "this" {
  count             = var.with_logs ? 1 : 0
  name              = "/hubdeploy/gitops-test"
  retention_in_days = 30
}

output "endpoint_name" {
  description = "Endpoint name."
  value       = module.endpoint.endpoint_name
}

output "endpoint_config_name" {
  description = "Config the endpoint serves."
  value       = module.endpoint.endpoint_config_name
}

output "model_name" {
  description = "Model behind the config."
  value       = module.endpoint.model_name
}
