data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id

  lambda_log_group = "/aws/lambda/${var.name}"
  access_log_group = "/aws/apigateway/${var.name}/access"
  # Execution logs: API Gateway creates and names this group itself; we own it for retention.
  execution_log_group = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.stage_name}"
}

# The API handler: lambda.zip published to S3 by `hubdeploy publish`; source_code_hash makes a new
# zip (new digest) update the function even when the key were reused.
resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_116:API Gateway invokes synchronously; a DLQ only receives failed asynchronous invocations, and the caller gets the error.
  # checkov:skip=CKV_AWS_117:The function only calls the public, IAM-authenticated SageMaker Runtime API; a VPC would add NAT or interface endpoints for no isolation gain.
  # checkov:skip=CKV_AWS_173:The environment holds no secret (endpoint name, request limits, log level); Lambda encrypts it at rest with its AWS managed key. A customer managed key would make GetFunction decrypt it with the caller's credentials, so the plan role (no kms:Decrypt) and the apply role would refresh different state and never produce the same plan.
  # checkov:skip=CKV_AWS_272:lambda.zip is pinned by its SHA-256 (source_code_hash from hubdeploy publish) in a bucket only the deploy role writes; code signing would add a signer profile for no extra guarantee here.
  function_name    = var.name
  description      = "POST /sentiment -> SageMaker endpoint ${var.endpoint_name}"
  role             = aws_iam_role.lambda.arn
  runtime          = var.runtime
  handler          = "handler.handler"
  s3_bucket        = var.lambda_s3_bucket
  s3_key           = var.lambda_s3_key
  source_code_hash = var.lambda_source_code_hash
  memory_size      = var.memory_size
  timeout          = var.timeout_seconds
  # null = unreserved (the provider sends -1): no PutFunctionConcurrency, which a new account refuses
  reserved_concurrent_executions = var.reserved_concurrency

  # No kms_key_arn on purpose: these values are not secret, and with a customer managed key GetFunction returns
  # them only to callers allowed kms:Decrypt on it (otherwise Environment.Error instead of Variables), so the
  # plan role's refresh would differ from the apply role's.
  # https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html

  environment {
    variables = {
      ENDPOINT_NAME  = var.endpoint_name
      MAX_TEXTS      = tostring(var.limits.max_texts)
      MAX_TEXT_CHARS = tostring(var.limits.max_text_chars)
      MAX_BODY_BYTES = tostring(var.limits.max_body_bytes)
      LOG_LEVEL      = var.log_level
    }
  }

  tracing_config {
    mode = var.xray_tracing ? "Active" : "PassThrough"
  }

  tags = var.tags

  # the log group must exist first, or Lambda creates it without retention or encryption
  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.lambda]
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowApiGatewayPostSentiment"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "apigateway.amazonaws.com"
  # only this API's POST /sentiment, on any stage
  source_arn = "${aws_api_gateway_rest_api.this.execution_arn}/*/POST/sentiment"
}
