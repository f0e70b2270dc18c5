variable "name" {
  description = "Name of the endpoint; also the prefix of the model, endpoint configuration, role, key alias and alarms. Lowercase letters, digits and hyphens, at most 30 characters (SageMaker names are limited to 63 and configurations get a 26-character suffix)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9](-?[a-z0-9])*$", var.name)) && length(var.name) <= 30
    error_message = "name must be lowercase letters, digits and single hyphens, at most 30 characters (e.g. \"hubdeploy-dev\")."
  }
}

variable "hub_model_id" {
  description = "Hugging Face Hub repository the artifact was built from (tag only; the model comes from model_data_url)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$", var.hub_model_id))
    error_message = "hub_model_id must be a non-empty Hub repository id such as \"yiyanghkust/finbert-tone\"."
  }
}

variable "hub_revision" {
  description = "Hub revision (commit SHA, or a branch in dev) the artifact was built from (tag only)."
  type        = string

  validation {
    condition     = length(var.hub_revision) > 0 && length(var.hub_revision) <= 256
    error_message = "hub_revision must be a non-empty revision (a 40-hex commit SHA outside dev)."
  }
}

variable "model_data_url" {
  description = "S3 URL of the published model.tar.gz (`s3://bucket/key.tar.gz`), from `hubdeploy publish`."
  type        = string

  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+\\.tar\\.gz$", var.model_data_url))
    error_message = "model_data_url must look like s3://<bucket>/<key>.tar.gz (run `hubdeploy publish` to generate it)."
  }
}

variable "model_artifact_sha256" {
  description = "SHA-256 (hex) of model.tar.gz. Part of the model's name, so a new artifact means a new model and configuration."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.model_artifact_sha256))
    error_message = "model_artifact_sha256 must be 64 lowercase hex characters (the published artifact's digest)."
  }
}

variable "artifact_kms_key_arn" {
  description = "KMS key encrypting the artifact bucket, if it uses SSE-KMS with a customer managed key: the execution role may decrypt with it. Null for SSE-S3 or the AWS managed key."
  type        = string
  default     = null

  validation {
    condition     = var.artifact_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.artifact_kms_key_arn))
    error_message = "artifact_kms_key_arn must be a KMS key ARN (arn:aws:kms:...) or null."
  }
}

variable "image_uri" {
  description = "Serving image. Null derives the Hugging Face PyTorch inference DLC for the region from the versions below (CPU or GPU by instance type). Required with serverless: a slim image of your own (serverless images are limited to 10 GB)."
  type        = string
  default     = null

  validation {
    condition     = var.image_uri == null || can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[a-z0-9._/-]+[:@].+$", var.image_uri))
    error_message = "image_uri must be an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>) or null."
  }
}

variable "framework_versions" {
  description = "Versions that pick the Hugging Face inference DLC tag: `<pytorch>-transformers<transformers>-<cpu|gpu>-<python>[-<cuda>]-<os>-<image_version>`. image_version pins one build of that tag (the tag without it floats to every patch release); README \"Serving image\" says how to move to a newer one."
  type = object({
    pytorch       = optional(string, "2.6.0")
    transformers  = optional(string, "4.51.3")
    python        = optional(string, "py312")
    cuda          = optional(string, "cu124")
    os            = optional(string, "ubuntu22.04")
    image_version = optional(string, "v2.1")
  })
  default = {}

  validation {
    condition     = can(regex("^v[0-9]+\\.[0-9]+(\\.[0-9]+)?$", var.framework_versions.image_version))
    error_message = "framework_versions.image_version must be a DLC version suffix such as \"v2.1\" (a floating tag would change the container on scale-out with no plan diff)."
  }
}

variable "instance_type" {
  description = "Instance type of a provisioned endpoint (`ml.<family>.<size>`); ignored when serverless is set."
  type        = string
  default     = "ml.m5.large"

  validation {
    condition     = can(regex("^ml\\.[a-z0-9-]+\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must be a SageMaker instance type such as \"ml.m5.large\" (note the ml. prefix)."
  }
}

variable "precision" {
  description = "Numeric precision of the model: \"fp32\" (default: full precision) or \"int8\" (model/code/inference.py quantizes every nn.Linear to int8 at load, CPU only; refused on GPU and accelerator instance types). int8 sets HUBDEPLOY_PRECISION=int8 in the container; fp32 sets nothing, so an fp32 model is exactly what it was before this setting existed."
  type        = string
  default     = "fp32"
  nullable    = false # null means the default, fp32

  validation {
    condition     = contains(["fp32", "int8"], var.precision)
    error_message = "precision must be \"fp32\" or \"int8\" (int8: Linear layers dynamically quantized, CPU only)."
  }

  # torch's dynamic int8 quantization runs on CPU only. Refused at plan: GPU types (ml.g*, ml.p*), where
  # inference.py would fail the model's load inside SageMaker, and Inferentia (ml.inf*), Trainium (ml.trn*) and
  # Gaudi (ml.dl*), where it would run on the host CPU and leave the accelerator being paid for idle. The families
  # are ProductionVariant's InstanceType values (botocore's sagemaker service model, read 2026-12):
  # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html#sagemaker-Type-ProductionVariant-InstanceType
  # Serverless endpoints have no GPUs (feature exclusions), so int8 is allowed there whatever instance_type says:
  # https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-exclusions
  validation {
    condition     = var.precision != "int8" || var.serverless != null || !can(regex("^ml\\.(g[0-9]|p[0-9]|inf[0-9]|trn[0-9]|dl[0-9])", var.instance_type))
    error_message = "precision = \"int8\" runs on CPU only, but ${var.instance_type} is a GPU or accelerator instance type (ml.g*, ml.p*, ml.inf*, ml.trn*, ml.dl*): set precision = \"fp32\" (or remove the precision line from the environment's terraform.tfvars), or choose a CPU instance type such as ml.m5.xlarge or ml.c5.xlarge."
  }
}

variable "instance_count" {
  description = "Initial instance count of a provisioned endpoint (autoscaling moves it between its min and max)."
  type        = number
  default     = 1

  validation {
    condition     = var.instance_count >= 1 && floor(var.instance_count) == var.instance_count
    error_message = "instance_count must be a whole number >= 1."
  }
}

variable "volume_size_in_gb" {
  description = "ML storage volume per instance (provisioned endpoints with EBS storage only; null = SageMaker's default for the instance type). Encrypted with the module's KMS key. Instance types with NVMe instance storage (ml.g4dn, ml.g5, ml.g6, ml.m5d, ...) have a fixed volume: leave it null there."
  type        = number
  default     = null

  # same pattern as local.instance_storage_pattern (main.tf)
  # https://docs.aws.amazon.com/sagemaker/latest/dg/host-instance-storage.html
  validation {
    condition     = var.volume_size_in_gb == null || !can(regex("^ml\\.([a-z]+[0-9]+[a-z]*d[a-z]*|g5|g6|g6e|g7|g7e|p5|p5e|p5en|p6-b200|p6-b300|p6e-gb200|trn1|trn1n|trn2|dl1)\\.", var.instance_type)) || var.serverless != null
    error_message = "volume_size_in_gb must be null for ${var.instance_type}: its NVMe instance storage has a fixed size (AWS refuses VolumeSizeInGB and a KMS volume key for it)."
  }

  validation {
    condition     = var.volume_size_in_gb == null || (try(var.volume_size_in_gb >= 1 && var.volume_size_in_gb <= 512, false))
    error_message = "volume_size_in_gb must be between 1 and 512 (or null for SageMaker's default)."
  }
}

variable "serverless" {
  description = "Serverless inference instead of instances (cheap, scales to zero; no GPU, no KMS volume key, no blue/green). Null = provisioned instances."
  type = object({
    memory_size_in_mb       = number
    max_concurrency         = number
    provisioned_concurrency = optional(number)
  })
  default = null

  validation {
    condition     = var.serverless == null || contains([1024, 2048, 3072, 4096, 5120, 6144], try(var.serverless.memory_size_in_mb, 0))
    error_message = "serverless.memory_size_in_mb must be one of 1024, 2048, 3072, 4096, 5120, 6144."
  }

  validation {
    condition     = var.serverless == null || (try(var.serverless.max_concurrency, 0) >= 1 && try(var.serverless.max_concurrency, 0) <= 200)
    error_message = "serverless.max_concurrency must be between 1 and 200."
  }

  # Serverless containers are limited to 10 GB, and AWS's stock Hugging Face inference images are not
  # sized for that budget (hubdeploy does not rely on them fitting): serverless needs your own slim image.
  # https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-exclusions
  validation {
    condition     = var.serverless == null || (var.image_uri != null && !can(regex("/huggingface-pytorch-inference[:@]", coalesce(var.image_uri, "-"))))
    error_message = "serverless needs image_uri set to a slim serving image of your own in ECR (serverless images are limited to 10 GB, and the stock huggingface-pytorch-inference DLC is not built for that limit): build one (the toolkit + CPU torch), or set serverless = null to use instances with the stock image."
  }
}

variable "autoscaling" {
  description = "Target tracking on SageMakerVariantInvocationsPerInstance for a provisioned endpoint. Null = fixed instance_count."
  type = object({
    min_capacity                    = number
    max_capacity                    = number
    target_invocations_per_instance = number
    scale_in_cooldown_seconds       = optional(number, 300)
    scale_out_cooldown_seconds      = optional(number, 60)
  })
  default = null

  validation {
    condition     = var.autoscaling == null || (try(var.autoscaling.min_capacity, 0) >= 1 && try(var.autoscaling.max_capacity, 0) >= try(var.autoscaling.min_capacity, 0))
    error_message = "autoscaling needs 1 <= min_capacity <= max_capacity."
  }

  validation {
    condition     = var.autoscaling == null || var.serverless == null
    error_message = "autoscaling applies to provisioned endpoints only: set serverless = null or autoscaling = null."
  }

  validation {
    condition     = var.autoscaling == null || try(var.instance_count >= var.autoscaling.min_capacity && var.instance_count <= var.autoscaling.max_capacity, false)
    error_message = "instance_count must lie between autoscaling.min_capacity and autoscaling.max_capacity (it is the count of a new endpoint)."
  }
}

variable "blue_green" {
  description = "Blue/green deployment for endpoint updates, rolled back automatically when the 5xx, 4xx or model-latency alarm fires during the bake. Null = SageMaker's default update (still zero-downtime, no alarm-driven rollback)."
  type = object({
    traffic_routing                      = optional(string, "CANARY")
    canary_percent                       = optional(number, 10)
    linear_step_percent                  = optional(number, 25)
    wait_interval_in_seconds             = optional(number, 300)
    termination_wait_in_seconds          = optional(number, 300)
    maximum_execution_timeout_in_seconds = optional(number, 3600)
  })
  default = null

  validation {
    condition     = var.blue_green == null || contains(["ALL_AT_ONCE", "CANARY", "LINEAR"], try(var.blue_green.traffic_routing, ""))
    error_message = "blue_green.traffic_routing must be ALL_AT_ONCE, CANARY or LINEAR."
  }

  validation {
    condition     = var.blue_green == null || var.serverless == null
    error_message = "blue_green deployments need a provisioned endpoint: set serverless = null or blue_green = null."
  }
}

variable "rollback_alarms" {
  description = "Thresholds of the alarms that roll a blue/green update back (and page, via alarm_actions): 5xx and 4xx counts per minute, average model latency in microseconds."
  type = object({
    invocation_5xx_errors = optional(number, 1)
    invocation_4xx_errors = optional(number, 20)
    model_latency_micros  = optional(number, 2000000)
    evaluation_periods    = optional(number, 2)
  })
  default = {}
}

variable "alarm_actions" {
  description = "ARNs (e.g. SNS topics) notified when an endpoint alarm fires."
  type        = list(string)
  default     = []
}

variable "network_isolation" {
  description = "Run the container without network access. Null = on for instances (recommended), off for serverless (which does not support it). Turn off only if model/code/requirements.txt lists packages, which the container installs from PyPI at start-up."
  type        = bool
  default     = null

  # https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-exclusions
  validation {
    condition     = !(var.network_isolation == true && var.serverless != null)
    error_message = "network_isolation cannot be true with serverless: serverless endpoints do not support network isolation (set network_isolation = null or false, or serverless = null)."
  }
}

variable "observed_instance_count" {
  description = "The endpoint variant's current DesiredInstanceCount, read by `hubdeploy plan` (null when there is no endpoint yet). With autoscaling, a new endpoint configuration starts at this count (clamped to min..max) instead of instance_count, so a deploy does not scale the endpoint back in. Ignored without autoscaling."
  type        = number
  default     = null

  validation {
    condition     = var.observed_instance_count == null || try(var.observed_instance_count >= 1 && floor(var.observed_instance_count) == var.observed_instance_count, false)
    error_message = "observed_instance_count must be a whole number >= 1 or null."
  }
}

variable "permissions_boundary_arn" {
  description = "ARN of the managed policy set as permissions boundary on every IAM role this module creates (the account root's stack boundary). Null = no boundary."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM managed policy ARN (arn:aws:iam::<account>:policy/<name>) or null."
  }
}

variable "environment_variables" {
  description = "Extra container environment (merged over SAGEMAKER_PROGRAM=inference.py and friends). HUBDEPLOY_PRECISION is precision's: a value here is overridden by it."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of the endpoint's CloudWatch log group."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before the module's KMS key is deleted after a destroy."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_in_days >= 7 && var.kms_deletion_window_in_days <= 30
    error_message = "kms_deletion_window_in_days must be between 7 and 30."
  }
}

variable "tags" {
  description = "Tags for every resource (the provider's default_tags still apply)."
  type        = map(string)
  default     = {}
}
