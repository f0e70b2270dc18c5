locals {
  log_group_name = "/aws/sagemaker/Endpoints/${var.name}"
}

# SageMaker would create this group itself, without retention or encryption; owning it here
# sets both, and a destroy removes it.
resource "aws_cloudwatch_log_group" "this" {
  # checkov:skip=CKV_AWS_338:Retention is an environment's choice (log_retention_days; prod keeps 365 days, dev 30 to save cost).
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}
