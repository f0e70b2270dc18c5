variable "aws_account_id" {
  description = "The AWS account the roles are created in (provider allowed_account_ids)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id must be a 12-digit AWS account id."
  }
}

variable "aws_region" {
  description = "Region of the state and artifact buckets and of the environments."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be an AWS region name such as \"us-east-1\"."
  }
}

variable "repository" {
  description = "GitHub repository (owner/name) whose workflows may assume the roles."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", var.repository))
    error_message = "repository must be owner/name, e.g. my-org/hubdeploy."
  }
}

variable "default_branch" {
  description = "Branch whose workflows (drift schedule, destroy plan) may assume the plan role."
  type        = string
  default     = "main"

  validation {
    condition     = length(var.default_branch) > 0 && !can(regex("[*?]", var.default_branch))
    error_message = "default_branch must be one branch name, without wildcards."
  }
}

variable "environments" {
  description = "GitHub Environments whose jobs may assume the apply role (one per Terraform env root)."
  type        = list(string)
  default     = ["dev", "staging", "prod"]

  validation {
    condition     = length(var.environments) > 0 && alltrue([for e in var.environments : contains(["dev", "staging", "prod"], e)])
    error_message = "environments must be a non-empty subset of dev, staging, prod."
  }
}

variable "state_bucket" {
  description = "Terraform state bucket (printed by `hubdeploy bootstrap`)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket))
    error_message = "state_bucket must be an S3 bucket name."
  }
}

variable "artifact_bucket" {
  description = "Artifact bucket for model.tar.gz and lambda.zip (printed by `hubdeploy bootstrap`)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.artifact_bucket))
    error_message = "artifact_bucket must be an S3 bucket name."
  }
}

variable "name_prefix" {
  description = "Prefix of the roles created here and of the IAM roles the env roots create (hubdeploy-<env>-...)."
  type        = string
  default     = "hubdeploy"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,30}$", var.name_prefix))
    error_message = "name_prefix must start with a letter and hold up to 31 letters, digits or dashes."
  }
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC provider; false reuses the existing one (there can be only one per account)."
  type        = bool
  default     = true
}

variable "max_session_duration" {
  description = "Maximum session length of both roles, in seconds: the longest job must fit in one session (a prod deploy: build and publish, a blue/green bake of up to an hour, smoke test; deploy-env.yml asks for 5400). IAM allows 1 to 12 hours."
  type        = number
  default     = 7200

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be between 3600 and 43200 seconds (IAM's limits for a role's maximum session)."
  }
}
