output "endpoint_name" {
  description = "Name of the SageMaker endpoint (what InvokeEndpoint takes)."
  value       = aws_sagemaker_endpoint.this.name
}

output "endpoint_arn" {
  description = "ARN of the SageMaker endpoint (for sagemaker:InvokeEndpoint permissions)."
  value       = aws_sagemaker_endpoint.this.arn
}

output "endpoint_config_name" {
  description = "Endpoint configuration the endpoint should serve after this apply."
  value       = aws_sagemaker_endpoint_configuration.this.name
}

output "model_name" {
  description = "SageMaker model behind the configuration (changes with every new artifact)."
  value       = aws_sagemaker_model.this.name
}

output "initial_instance_count" {
  description = "Initial instance count of the endpoint configuration (with autoscaling: the variant's count when the configuration was made, clamped to min..max; null for serverless)."
  value       = one(aws_sagemaker_endpoint_configuration.this.production_variants[*].initial_instance_count)
}

output "image_uri" {
  description = "Serving image the model runs."
  value       = local.image_uri
}

output "execution_role_arn" {
  description = "ARN of the SageMaker execution role."
  value       = aws_iam_role.this.arn
}

output "kms_key_arn" {
  description = "KMS key encrypting the log group, and the instance volumes where they are EBS (not serverless, not NVMe instance storage)."
  value       = aws_kms_key.this.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the endpoint's containers."
  value       = aws_cloudwatch_log_group.this.name
}

output "alarm_names" {
  description = "Alarms on 5xx, 4xx and model latency (the blue/green rollback triggers)."
  value       = [for alarm in aws_cloudwatch_metric_alarm.rollback : alarm.alarm_name]
}
