# A small root shaped like an env root's serving chain, applied against the emulator so the gitops tests
# summarise and render real `terraform show -json` output (model pin change, destroy, no-op, sensitive).
terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "endpoint_url" {
  description = "The emulator's URL."
  type        = string
}

variable "hub_model_id" {
  description = "Hub repository id."
  type        = string
  default     = "yiyanghkust/finbert-tone"
}

variable "hub_revision" {
  description = "Hub revision."
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
  description = "A secret the plan must never show."
  type        = string
  sensitive   = true
  default     = "s3cr3t-value-never-shown"
}

variable "with_logs" {
  description = "Whether the log group exists (false destroys it: a warning in the comment)."
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
  s3_use_path_style           = true
  max_retries                 = 2
  endpoints {
    iam       = var.endpoint_url
    logs      = var.endpoint_url
    sagemaker = var.endpoint_url
    ssm       = var.endpoint_url
    sts       = var.endpoint_url
  }
}

locals {
  slug = replace(var.hub_model_id, "/", "--")
  tags = {
    "hubdeploy:hub-model-id"    = var.hub_model_id
    "hubdeploy:hub-revision"    = var.hub_revision
    "hubdeploy:artifact-sha256" = var.model_artifact_sha256
    "hubdeploy:git-commit"      = var.git_commit
  }
}

resource "aws_iam_role" "endpoint" {
  name = "gitops-test-endpoint"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "sagemaker.amazonaws.com" } }]
  })
}

resource "aws_cloudwatch_log_group" "this" {
  count             = var.with_logs ? 1 : 0
  name              = "/hubdeploy/gitops-test"
  retention_in_days = 30
}

resource "aws_ssm_parameter" "secret" {
  name  = "/hubdeploy/gitops-test/secret"
  type  = "SecureString"
  value = var.api_secret
}

resource "aws_sagemaker_model" "this" {
  name               = "dev-finbert-${substr(var.model_artifact_sha256, 0, 12)}"
  execution_role_arn = aws_iam_role.endpoint.arn
  primary_container {
    image          = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:2.1.0-transformers4.37.0-cpu-py310-ubuntu22.04"
    model_data_url = "s3://hubdeploy-artifacts-123456789012-us-east-1/models/${local.slug}/${var.hub_revision}/${substr(var.model_artifact_sha256, 0, 12)}/model.tar.gz"
    environment = {
      SAGEMAKER_PROGRAM = "inference.py"
      API_SECRET        = var.api_secret
    }
  }
  tags = local.tags
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint_configuration" "this" {
  name_prefix = "dev-finbert-"
  production_variants {
    variant_name           = "primary"
    model_name             = aws_sagemaker_model.this.name
    instance_type          = var.instance_type
    initial_instance_count = 1
  }
  tags = local.tags
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint" "this" {
  name                 = "dev-finbert"
  endpoint_config_name = aws_sagemaker_endpoint_configuration.this.name
  tags                 = { "hubdeploy:env" = "dev" }
}

output "endpoint_name" {
  description = "Endpoint name."
  value       = aws_sagemaker_endpoint.this.name
}

output "endpoint_config_name" {
  description = "Config the endpoint serves."
  value       = aws_sagemaker_endpoint_configuration.this.name
}
