resource "aws_cloudwatch_log_group" "lambda" {
  # checkov:skip=CKV_AWS_338:Retention is an environment's choice (log_retention_days; prod keeps 365 days, dev 30 to save cost).
  name              = local.lambda_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "access" {
  # checkov:skip=CKV_AWS_338:Retention is an environment's choice (log_retention_days; prod keeps 365 days, dev 30 to save cost).
  name              = local.access_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "execution" {
  # checkov:skip=CKV_AWS_338:Retention is an environment's choice (log_retention_days; prod keeps 365 days, dev 30 to save cost).
  name              = local.execution_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}
