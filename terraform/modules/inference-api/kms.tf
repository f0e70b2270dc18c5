# One customer managed key for the API's log groups. (Not for the Lambda's environment: see main.tf.)
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
    sid       = "CloudWatchLogsEncryptsApiLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.lambda_log_group}",
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.access_log_group}",
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:API-Gateway-Execution-Logs_*",
      ]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "API ${var.name}: log groups"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_in_days
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-api"
  target_key_id = aws_kms_key.this.key_id
}
