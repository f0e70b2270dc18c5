variable "aws_account_id" {
  description = "The AWS account whose settings this root manages (provider allowed_account_ids)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id must be a 12-digit AWS account id."
  }
}

variable "aws_region" {
  description = "Region whose settings this root manages (API Gateway's account settings are per region): the environments' region."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be an AWS region name such as \"us-east-1\"."
  }
}

variable "repository" {
  description = "Repository that manages these settings (default tag)."
  type        = string
  default     = "hubdeploy"
}

variable "name_prefix" {
  description = "Prefix of the IAM names created here (hubdeploy-...), the same as terraform/github-oidc's."
  type        = string
  default     = "hubdeploy"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,30}$", var.name_prefix))
    error_message = "name_prefix must start with a letter and hold up to 31 letters, digits or dashes."
  }
}

variable "artifact_bucket" {
  description = "Artifact bucket (`hubdeploy bootstrap`) whose objects the stack's SageMaker roles may read; null = hubdeploy's default name, <name_prefix>-artifacts-<account>-<region>."
  type        = string
  default     = null

  validation {
    condition     = var.artifact_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.artifact_bucket))
    error_message = "artifact_bucket must be an S3 bucket name (printed by `hubdeploy bootstrap`), or null for the default name."
  }
}
