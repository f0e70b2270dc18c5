# The initial instance count of an autoscaled endpoint's configuration.
#
# UpdateEndpoint without RetainAllVariantProperties (the provider never sets it) resets the variant's
# instance count to the new configuration's InitialInstanceCount: a pin change on an endpoint that
# autoscaling has taken to 6 instances would drop it to instance_count (2) on every deploy.
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html#sagemaker-UpdateEndpoint-request-RetainAllVariantProperties
# So `hubdeploy plan` reads the variant's current DesiredInstanceCount (DescribeEndpoint) and passes
# it as observed_instance_count; a new configuration starts there, clamped to min..max.
#
# That number moves whenever autoscaling does, and must not make a plan show changes: it is held in
# terraform_data.initial_instance_count, which ignores later changes of its input and is re-read only
# when the configuration is replaced anyway (replace_triggered_by the configuration's other inputs,
# terraform_data.config_inputs). The configuration reads the holder's `input`, which Terraform plans
# from the configuration when the holder is created or replaced, so the count is known at plan time
# (its `output` would be "known after apply").
locals {
  observed_count = var.observed_instance_count == null ? var.instance_count : var.observed_instance_count
  start_count    = local.autoscaled ? min(max(local.observed_count, var.autoscaling.min_capacity), var.autoscaling.max_capacity) : var.instance_count
}

# Everything but the count that makes a new endpoint configuration (aws_sagemaker_endpoint_configuration.this).
resource "terraform_data" "config_inputs" {
  count = local.autoscaled ? 1 : 0

  input = {
    model_name        = local.model_name
    variant_name      = local.variant_name
    instance_type     = var.instance_type
    volume_size_in_gb = var.volume_size_in_gb
    kms_key_arn       = local.instance_storage ? null : aws_kms_key.this.arn
  }
}

resource "terraform_data" "initial_instance_count" {
  count = local.autoscaled ? 1 : 0

  input = local.start_count

  lifecycle {
    ignore_changes       = [input]
    replace_triggered_by = [terraform_data.config_inputs[count.index]]
  }
}
