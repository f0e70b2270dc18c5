# One customer managed key for this endpoint: the ML storage volumes of its instances and its log
# group. Serverless endpoints have no volume (AWS refuses a KmsKeyId there); the key still
# encrypts the logs.
data "aws_iam_policy_document" "kms" {
  # checkov:skip=CKV_AWS_109:A key policy's Resource "*" means this key only; the account root statement is AWS's default key policy that lets IAM policies grant use of the key.
  # checkov:skip=CKV_AWS_111:Same: key policies are scoped to their key by definition.
  # checkov:skip=CKV_AWS_356:Same: "*" in a key policy is the key itself, not every resource.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsEndpointLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "SageMaker endpoint ${var.name}: instance volumes and logs"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_in_days
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-endpoint"
  target_key_id = aws_kms_key.this.key_id
}
