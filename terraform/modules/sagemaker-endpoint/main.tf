data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id

  serverless = var.serverless != null
  autoscaled = var.autoscaling != null
  # GPU families get the GPU image; serverless endpoints are CPU only.
  use_gpu = !local.serverless && can(regex("^ml\\.(g[0-9]+[a-z]*|p[0-9]+[a-z0-9-]*)\\.", var.instance_type))
  # Instance types with NVMe instance storage: AWS encrypts it in hardware and refuses a KmsKeyId
  # (CreateEndpointConfig fails) and a VolumeSizeInGB for them. Families with a "d" after the
  # generation (c5d, m5d, r5d, m6gd, g4dn, p4d, ...) plus the GPU/accelerator families that have
  # NVMe without saying so in the name. Listing a family too many is harmless (no KMS volume key,
  # the storage is hardware-encrypted anyway); one too few fails the first apply.
  # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html#sagemaker-CreateEndpointConfig-request-KmsKeyId
  # https://docs.aws.amazon.com/sagemaker/latest/dg/host-instance-storage.html
  instance_storage = !local.serverless && can(regex(local.instance_storage_pattern, var.instance_type))
  # the same pattern as variables.tf's volume_size_in_gb validation (a variable cannot read a local)
  instance_storage_pattern = "^ml\\.([a-z]+[0-9]+[a-z]*d[a-z]*|g5|g6|g6e|g7|g7e|p5|p5e|p5en|p6-b200|p6-b300|p6e-gb200|trn1|trn1n|trn2|dl1)\\."

  # Network isolation: on by default for instances; serverless endpoints do not support it
  # (variables.tf refuses true with serverless).
  network_isolation = coalesce(var.network_isolation, !local.serverless)

  # AWS Deep Learning Containers registry per region, from the SageMaker Python SDK's
  # image_uri_config/huggingface.json (the accounts of its huggingface-pytorch-inference entries,
  # sagemaker-core, checked 2026-12) and https://github.com/aws/deep-learning-containers/blob/master/available_images.md.
  # A region missing here fails at plan (precondition on the model) instead of pulling from a
  # registry that does not serve it: set image_uri there.
  dlc_accounts = {
    "af-south-1"     = "626614931356"
    "ap-east-1"      = "871362719292"
    "ap-east-2"      = "975050140332"
    "ap-northeast-1" = "763104351884"
    "ap-northeast-2" = "763104351884"
    "ap-northeast-3" = "364406365360"
    "ap-south-1"     = "763104351884"
    "ap-south-2"     = "772153158452"
    "ap-southeast-1" = "763104351884"
    "ap-southeast-2" = "763104351884"
    "ap-southeast-3" = "907027046896"
    "ap-southeast-4" = "457447274322"
    "ap-southeast-5" = "550225433462"
    "ap-southeast-6" = "633930458069"
    "ap-southeast-7" = "590183813437"
    "ca-central-1"   = "763104351884"
    "ca-west-1"      = "204538143572"
    "cn-north-1"     = "727897471807"
    "cn-northwest-1" = "727897471807"
    "eu-central-1"   = "763104351884"
    "eu-central-2"   = "380420809688"
    "eu-north-1"     = "763104351884"
    "eu-south-1"     = "692866216735"
    "eu-south-2"     = "503227376785"
    "eu-west-1"      = "763104351884"
    "eu-west-2"      = "763104351884"
    "eu-west-3"      = "763104351884"
    "il-central-1"   = "780543022126"
    "me-central-1"   = "914824155844"
    "me-south-1"     = "217643126080"
    "mx-central-1"   = "637423239942"
    "sa-east-1"      = "763104351884"
    "us-east-1"      = "763104351884"
    "us-east-2"      = "763104351884"
    "us-gov-east-1"  = "446045086412"
    "us-gov-west-1"  = "442386744353"
    "us-west-1"      = "763104351884"
    "us-west-2"      = "763104351884"
  }
  dlc_account = lookup(local.dlc_accounts, local.region, "")
  dlc_domain  = startswith(local.region, "cn-") ? "amazonaws.com.cn" : "amazonaws.com"
  fw          = var.framework_versions
  # The versioned tag (`...-ubuntu22.04-v2.1`) names one build; the tag without the suffix floats to
  # every patch release, which would change the container on the next scale-out with no plan diff.
  image_tag = join("-", compact([
    "${local.fw.pytorch}-transformers${local.fw.transformers}",
    local.use_gpu ? "gpu" : "cpu",
    local.fw.python,
    local.use_gpu ? local.fw.cuda : "",
    local.fw.os,
    local.fw.image_version,
  ]))
  image_uri = coalesce(var.image_uri, "${local.dlc_account}.dkr.ecr.${local.region}.${local.dlc_domain}/huggingface-pytorch-inference:${local.image_tag}")

  # ECR repository ARN of the image, for a pull permission scoped to it.
  image_account   = split(".", local.image_uri)[0]
  image_region    = split(".", local.image_uri)[3]
  image_repo      = regex("^[^/]+/([^:@]+)", local.image_uri)[0]
  image_repo_arn  = "arn:${local.partition}:ecr:${local.image_region}:${local.image_account}:repository/${local.image_repo}"
  artifact_bucket = regex("^s3://([^/]+)/", var.model_data_url)[0]
  artifact_key    = regex("^s3://[^/]+/(.+)$", var.model_data_url)[0]

  container_environment = merge({
    # the Hugging Face inference toolkit loads model_fn & co. from code/inference.py in the archive
    SAGEMAKER_PROGRAM             = "inference.py"
    SAGEMAKER_SUBMIT_DIRECTORY    = "/opt/ml/model/code"
    SAGEMAKER_CONTAINER_LOG_LEVEL = "20"
    SAGEMAKER_REGION              = local.region
  }, var.environment_variables, local.precision_environment)
  # Written for int8 only (or to override environment_variables): an fp32 model's environment, and so its name
  # (model_fingerprint), stays what it was before precision existed, so fp32 environments plan "No changes".
  # inference.py's default is fp32.
  precision_environment = (
    var.precision == "int8" || contains(keys(var.environment_variables), "HUBDEPLOY_PRECISION")
    ? { HUBDEPLOY_PRECISION = var.precision } : {}
  )

  # The model's name is a digest of everything that makes it a different model: a new artifact
  # (pin change) or image means a new name, so Terraform creates the new model next to the old one.
  model_fingerprint = substr(sha256(jsonencode({
    artifact          = var.model_artifact_sha256
    url               = var.model_data_url
    image             = local.image_uri
    environment       = local.container_environment
    network_isolation = local.network_isolation
  })), 0, 12)
  model_name = "${var.name}-${local.model_fingerprint}"

  variant_name = "primary"

  # Only what the model is, never which commit or run produced it: a commit that changes nothing deployed
  # (docs, tests) must plan "No changes". The commit is kept in the artifact's S3 tags and digest index entry
  # (`hubdeploy publish`), the PR comment and the deploy record.
  deploy_tags = {
    "hubdeploy:hub-model-id"    = var.hub_model_id
    "hubdeploy:hub-revision"    = var.hub_revision
    "hubdeploy:artifact-sha256" = var.model_artifact_sha256
  }
  tags = merge(var.tags, local.deploy_tags)
}

# Models and endpoint configurations are immutable in SageMaker. A pin change creates a new model
# and a new configuration (create_before_destroy, new names), updates the endpoint in place to the
# new configuration (the provider waits until it is InService again), and only then deletes the
# old configuration and model. See README "Model updates".
resource "aws_sagemaker_model" "this" {
  name               = local.model_name
  execution_role_arn = aws_iam_role.this.arn
  # No network inside the container: model.tar.gz is all it needs (SageMaker downloads it outside
  # the container). Needs an empty code/requirements.txt, as the toolkit pip-installs it at start.
  enable_network_isolation = local.network_isolation

  primary_container {
    image          = local.image_uri
    model_data_url = var.model_data_url
    environment    = local.container_environment
  }

  tags = local.tags

  # the role's policy must exist before SageMaker validates access to the artifact and image
  depends_on = [aws_iam_role_policy.this]

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.image_uri != null || local.dlc_account != ""
      error_message = "No Hugging Face DLC registry is known for region ${local.region}: set image_uri to an image in that region (see the module README, \"Serving image\")."
    }
  }
}

resource "aws_sagemaker_endpoint_configuration" "this" {
  # name_prefix: every replacement gets a fresh name, so the endpoint sees a new name and is
  # updated in place; a fixed name would collide with the old configuration (provider docs).
  name_prefix = "${var.name}-"
  # AWS refuses KmsKeyId on serverless endpoints (they have no ML storage volume) and on instance
  # types with NVMe instance storage (hardware-encrypted; see local.instance_storage).
  kms_key_arn = local.serverless || local.instance_storage ? null : aws_kms_key.this.arn

  # Autoscaled: the count held by terraform_data.initial_instance_count (capacity.tf), so a new
  # configuration starts where autoscaling has the variant now instead of scaling it back in.
  production_variants {
    variant_name           = local.variant_name
    model_name             = aws_sagemaker_model.this.name
    instance_type          = local.serverless ? null : var.instance_type
    initial_instance_count = local.serverless ? null : (local.autoscaled ? terraform_data.initial_instance_count[0].input : var.instance_count)
    initial_variant_weight = 1
    volume_size_in_gb      = local.serverless ? null : var.volume_size_in_gb

    dynamic "serverless_config" {
      for_each = local.serverless ? [var.serverless] : []
      content {
        memory_size_in_mb       = serverless_config.value.memory_size_in_mb
        max_concurrency         = serverless_config.value.max_concurrency
        provisioned_concurrency = serverless_config.value.provisioned_concurrency
      }
    }
  }

  tags = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint" "this" {
  name                 = var.name
  endpoint_config_name = aws_sagemaker_endpoint_configuration.this.name

  dynamic "deployment_config" {
    for_each = var.blue_green == null ? [] : [var.blue_green]
    content {
      blue_green_update_policy {
        termination_wait_in_seconds          = deployment_config.value.termination_wait_in_seconds
        maximum_execution_timeout_in_seconds = deployment_config.value.maximum_execution_timeout_in_seconds

        traffic_routing_configuration {
          type                     = deployment_config.value.traffic_routing
          wait_interval_in_seconds = deployment_config.value.wait_interval_in_seconds

          dynamic "canary_size" {
            for_each = deployment_config.value.traffic_routing == "CANARY" ? [1] : []
            content {
              type  = "CAPACITY_PERCENT"
              value = deployment_config.value.canary_percent
            }
          }

          dynamic "linear_step_size" {
            for_each = deployment_config.value.traffic_routing == "LINEAR" ? [1] : []
            content {
              type  = "CAPACITY_PERCENT"
              value = deployment_config.value.linear_step_percent
            }
          }
        }
      }

      auto_rollback_configuration {
        dynamic "alarms" {
          for_each = aws_cloudwatch_metric_alarm.rollback
          content {
            alarm_name = alarms.value.alarm_name
          }
        }
      }
    }
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this]
}
