# The execution role SageMaker assumes to run the container: it may read only this model's
# artifact, write only this endpoint's logs, and pull only the serving image's repository.
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
    # confused-deputy guard: only SageMaker acting for this account may assume the role
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name_prefix          = "${var.name}-sm-"
  description          = "SageMaker execution role of endpoint ${var.name}"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "ReadModelArtifact"
    actions   = ["s3:GetObject"]
    resources = ["arn:${local.partition}:s3:::${local.artifact_bucket}/${local.artifact_key}"]
  }

  statement {
    sid       = "PullServingImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [local.image_repo_arn]
  }

  statement {
    # GetAuthorizationToken has no resource-level permissions: AWS requires "*"
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    # PutMetricData has no resource-level permissions; the namespace condition scopes it
    sid       = "PublishEndpointMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringLike"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/*"]
    }
  }

  dynamic "statement" {
    # Blue/green auto-rollback: SageMaker reads the rollback alarms with the endpoint's execution role,
    # and CreateEndpoint/UpdateEndpoint fail when it may not.
    # https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html
    for_each = var.blue_green == null ? [] : [1]
    content {
      sid       = "ReadRollbackAlarms"
      actions   = ["cloudwatch:DescribeAlarms"]
      resources = [for alarm in aws_cloudwatch_metric_alarm.rollback : alarm.arn]
    }
  }

  dynamic "statement" {
    for_each = var.artifact_kms_key_arn == null ? [] : [var.artifact_kms_key_arn]
    content {
      sid       = "DecryptModelArtifact"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "endpoint-runtime"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
