# The permissions boundary of every IAM role the environments create (terraform/root: the SageMaker execution
# role, the API Lambda's role). The GitHub apply role may create and change roles only when they carry this
# boundary (terraform/github-oidc/iam.tf), so however an apply edits a role's own policy, the role can never do
# more than this: read artifacts, pull images, write the stack's logs, metrics and traces, invoke the stack's
# endpoints. An administrator owns it; the apply role may not change it.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
locals {
  boundary_artifact_bucket = coalesce(var.artifact_bucket, "${var.name_prefix}-artifacts-${var.aws_account_id}-${var.aws_region}")
  boundary_arn_prefix      = "arn:${data.aws_partition.current.partition}"
  boundary_scope           = "${var.aws_region}:${var.aws_account_id}"
}

data "aws_iam_policy_document" "stack_boundary" {
  # checkov:skip=CKV_AWS_356:Only ecr:GetAuthorizationToken, cloudwatch:PutMetricData (namespace-scoped) and X-Ray writes use "*": AWS offers no resource-level permissions for them.
  statement {
    sid       = "SageMakerReadsArtifacts"
    actions   = ["s3:GetObject"]
    resources = ["${local.boundary_arn_prefix}:s3:::${local.boundary_artifact_bucket}/*"]
  }

  statement {
    # the serving images live in AWS's Deep Learning Containers accounts (or the account of an image_uri)
    sid       = "SageMakerPullsImages"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = ["${local.boundary_arn_prefix}:ecr:${var.aws_region}:*:repository/*"]
  }

  statement {
    sid       = "SageMakerLogsInToEcr"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid     = "WriteStackLogs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [
      "${local.boundary_arn_prefix}:logs:${local.boundary_scope}:log-group:/aws/sagemaker/Endpoints/${var.name_prefix}-*",
      "${local.boundary_arn_prefix}:logs:${local.boundary_scope}:log-group:/aws/lambda/${var.name_prefix}-*",
    ]
  }

  statement {
    sid       = "SageMakerPublishesMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringLike"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/*"]
    }
  }

  statement {
    # blue/green auto-rollback: SageMaker reads the rollback alarms with the execution role
    sid       = "SageMakerReadsRollbackAlarms"
    actions   = ["cloudwatch:DescribeAlarms"]
    resources = ["${local.boundary_arn_prefix}:cloudwatch:${local.boundary_scope}:alarm:${var.name_prefix}-*"]
  }

  statement {
    # an artifact bucket encrypted with a customer managed key: decrypt only through S3
    sid       = "SageMakerDecryptsArtifactsViaS3"
    actions   = ["kms:Decrypt"]
    resources = ["${local.boundary_arn_prefix}:kms:${local.boundary_scope}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.aws_region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "LambdaInvokesStackEndpoints"
    actions   = ["sagemaker:InvokeEndpoint"]
    resources = ["${local.boundary_arn_prefix}:sagemaker:${local.boundary_scope}:endpoint/${var.name_prefix}-*"]
  }

  statement {
    sid       = "LambdaWritesTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "stack_boundary" {
  name        = "${var.name_prefix}-stack-boundary"
  description = "Permissions boundary of every role the hubdeploy environments create (the most those roles can ever do)"
  policy      = data.aws_iam_policy_document.stack_boundary.json
}
