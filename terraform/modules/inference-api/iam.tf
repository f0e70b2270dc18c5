data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name_prefix          = "${var.name}-fn-"
  description          = "Lambda ${var.name}: invoke one SageMaker endpoint, write its own logs"
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume.json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

data "aws_iam_policy_document" "lambda" {
  statement {
    sid       = "InvokeThisEndpointOnly"
    actions   = ["sagemaker:InvokeEndpoint"]
    resources = [var.endpoint_arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.xray_tracing ? [1] : []
    content {
      # X-Ray's write actions have no resource-level permissions: AWS requires "*"
      sid       = "WriteTraces"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "invoke-endpoint"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

# API Gateway's CloudWatch Logs role is one per account and region (aws_api_gateway_account): it lives in
# terraform/account, applied once per account and region, so no environment can overwrite or destroy it.
