variable "name" {
  description = "Name of the API, its Lambda function, role, user pool and log groups. Lowercase letters, digits and hyphens, at most 40 characters."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9](-?[a-z0-9])*$", var.name)) && length(var.name) <= 40
    error_message = "name must be lowercase letters, digits and single hyphens, at most 40 characters (e.g. \"hubdeploy-dev\")."
  }
}

variable "endpoint_name" {
  description = "SageMaker endpoint the Lambda invokes (ENDPOINT_NAME)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be a SageMaker endpoint name (letters, digits, hyphens; at most 63)."
  }
}

variable "endpoint_arn" {
  description = "ARN of that endpoint: the only resource the Lambda may call sagemaker:InvokeEndpoint on."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:endpoint/.+$", var.endpoint_arn))
    error_message = "endpoint_arn must be a SageMaker endpoint ARN (arn:aws:sagemaker:<region>:<account>:endpoint/<name>)."
  }
}

variable "lambda_s3_bucket" {
  description = "Bucket holding lambda.zip (the artifact bucket from `hubdeploy publish`)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.lambda_s3_bucket))
    error_message = "lambda_s3_bucket must be an S3 bucket name (no s3:// prefix)."
  }
}

variable "lambda_s3_key" {
  description = "Key of lambda.zip in lambda_s3_bucket."
  type        = string

  validation {
    condition     = can(regex("\\.zip$", var.lambda_s3_key)) && !startswith(var.lambda_s3_key, "/")
    error_message = "lambda_s3_key must be an S3 key ending in .zip, without a leading slash."
  }
}

variable "lambda_source_code_hash" {
  description = "Base64 SHA-256 of lambda.zip (`lambda_source_code_hash` from publish): a new zip updates the function."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.lambda_source_code_hash))
    error_message = "lambda_source_code_hash must be the base64 of a SHA-256 digest (44 characters ending in =)."
  }
}

variable "runtime" {
  description = "Lambda runtime (python3.12 or newer)."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be python3.12 or python3.13."
  }
}

variable "memory_size" {
  description = "Lambda memory in MB (also scales its CPU)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240."
  }
}

variable "timeout_seconds" {
  description = "Lambda timeout. API Gateway gives up after 29 s, so stay below."
  type        = number
  default     = 28

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 29
    error_message = "timeout_seconds must be between 1 and 29 (API Gateway's integration limit)."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions of the function: caps what the API can push at the endpoint (and at your bill). Null (default) = unreserved: new accounts have a concurrency limit of 10 and Lambda refuses any reservation that leaves fewer than 100 unreserved, so reserve only after a quota increase (`hubdeploy bootstrap` checks the account)."
  type        = number
  default     = null

  # https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
  validation {
    condition     = var.reserved_concurrency == null || try(var.reserved_concurrency >= 1 && floor(var.reserved_concurrency) == var.reserved_concurrency, false)
    error_message = "reserved_concurrency must be null (unreserved) or a whole number >= 1 (0 would disable the function); Lambda also refuses a reservation that leaves fewer than 100 unreserved in the account."
  }
}

variable "limits" {
  description = "Request limits the handler enforces (MAX_TEXTS, MAX_TEXT_CHARS, MAX_BODY_BYTES)."
  type = object({
    max_texts      = optional(number, 32)
    max_text_chars = optional(number, 5000)
    max_body_bytes = optional(number, 262144)
  })
  default = {}

  validation {
    condition     = var.limits.max_texts >= 1 && var.limits.max_text_chars >= 1 && var.limits.max_body_bytes >= 1024
    error_message = "limits: max_texts and max_text_chars must be >= 1, max_body_bytes >= 1024."
  }
}

variable "log_level" {
  description = "Handler log level (LOG_LEVEL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "auth_mode" {
  description = "How callers authenticate: cognito (default: OAuth2 client credentials, access token with the invoke scope), iam (SigV4, grant execute-api:Invoke), or api_key (x-api-key header + usage plan quota)."
  type        = string
  default     = "cognito"

  validation {
    condition     = contains(["cognito", "iam", "api_key"], var.auth_mode)
    error_message = "auth_mode must be cognito, iam or api_key."
  }
}

variable "access_token_validity_minutes" {
  description = "Lifetime of the Cognito access tokens issued to API clients."
  type        = number
  default     = 60

  validation {
    condition     = var.access_token_validity_minutes >= 5 && var.access_token_validity_minutes <= 1440
    error_message = "access_token_validity_minutes must be between 5 and 1440."
  }
}

variable "stage_name" {
  description = "API Gateway stage (part of the URL)."
  type        = string
  default     = "v1"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_]{1,64}$", var.stage_name))
    error_message = "stage_name must be 1-64 letters, digits or underscores."
  }
}

variable "throttle" {
  description = "Stage-wide throttling (steady requests/s and burst); the usage plan uses the same numbers in api_key mode, with a daily quota."
  type = object({
    rate_limit  = optional(number, 20)
    burst_limit = optional(number, 40)
    daily_quota = optional(number, 10000)
  })
  default = {}

  validation {
    condition     = var.throttle.rate_limit > 0 && var.throttle.burst_limit >= 1 && var.throttle.daily_quota >= 1
    error_message = "throttle: rate_limit must be > 0, burst_limit and daily_quota >= 1."
  }
}

variable "xray_tracing" {
  description = "Active X-Ray tracing on the Lambda function and the API stage."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the Lambda and access log groups."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (e.g. 30, 90, 365)."
  }
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before the module's KMS key (log groups) is deleted after a destroy."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_in_days >= 7 && var.kms_deletion_window_in_days <= 30
    error_message = "kms_deletion_window_in_days must be between 7 and 30."
  }
}

variable "deletion_protection" {
  description = "Protect the Cognito user pool (and its app clients' secrets) from deletion."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource (the provider's default_tags still apply)."
  type        = map(string)
  default     = {}
}

variable "web_acl_arn" {
  description = "WAFv2 web ACL (REGIONAL scope) to associate with the stage, e.g. with AWS managed rule groups and a rate rule. Null = no WAF."
  type        = string
  default     = null

  validation {
    condition     = var.web_acl_arn == null || can(regex("^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/", var.web_acl_arn))
    error_message = "web_acl_arn must be a REGIONAL WAFv2 web ACL ARN (arn:aws:wafv2:<region>:<account>:regional/webacl/...) or null."
  }
}

variable "permissions_boundary_arn" {
  description = "ARN of the managed policy set as permissions boundary on every IAM role the module creates (the Lambda's execution role); null = none. terraform/root passes the stack boundary that terraform/account creates."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM managed policy ARN (arn:aws:iam::<account>:policy/<name>) or null."
  }
}
