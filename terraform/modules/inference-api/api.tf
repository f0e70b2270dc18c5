locals {
  authorization = {
    cognito = "COGNITO_USER_POOLS"
    iam     = "AWS_IAM"
    api_key = "NONE"
  }[var.auth_mode]
}

resource "aws_api_gateway_rest_api" "this" {
  name        = var.name
  description = "Sentiment API: POST /sentiment -> Lambda -> SageMaker endpoint ${var.endpoint_name}"
  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "sentiment" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "sentiment"
}

# Shape check at the edge: malformed requests get a 400 from API Gateway without invoking (or
# billing) the Lambda. The handler still validates limits and types in detail.
resource "aws_api_gateway_model" "request" {
  rest_api_id  = aws_api_gateway_rest_api.this.id
  name         = "SentimentRequest"
  description  = "{\"text\": \"...\"} or {\"texts\": [\"...\", ...]}"
  content_type = "application/json"
  schema = jsonencode({
    "$schema"     = "http://json-schema.org/draft-04/schema#"
    title         = "SentimentRequest"
    type          = "object"
    minProperties = 1
    properties = {
      text  = { type = "string", minLength = 1 }
      texts = { type = "array", minItems = 1, items = { type = "string", minLength = 1 } }
    }
  })
}

resource "aws_api_gateway_request_validator" "body" {
  rest_api_id                 = aws_api_gateway_rest_api.this.id
  name                        = "body"
  validate_request_body       = true
  validate_request_parameters = true
}

resource "aws_api_gateway_method" "post" {
  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = aws_api_gateway_resource.sentiment.id
  http_method          = "POST"
  authorization        = local.authorization
  authorizer_id        = var.auth_mode == "cognito" ? aws_api_gateway_authorizer.cognito[0].id : null
  authorization_scopes = var.auth_mode == "cognito" ? [local.invoke_scope] : null
  api_key_required     = var.auth_mode == "api_key"
  request_validator_id = aws_api_gateway_request_validator.body.id

  request_models = {
    "application/json" = aws_api_gateway_model.request.name
  }
}

resource "aws_api_gateway_integration" "lambda" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.sentiment.id
  http_method             = aws_api_gateway_method.post.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.this.invoke_arn
  timeout_milliseconds    = 29000
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  # a deployment is a snapshot: take a new one whenever what the API does changes
  triggers = {
    redeployment = sha1(jsonencode({
      path          = aws_api_gateway_resource.sentiment.path_part
      authorization = aws_api_gateway_method.post.authorization
      authorizer    = aws_api_gateway_method.post.authorizer_id
      scopes        = aws_api_gateway_method.post.authorization_scopes
      api_key       = aws_api_gateway_method.post.api_key_required
      validator     = aws_api_gateway_method.post.request_validator_id
      models        = aws_api_gateway_method.post.request_models
      integration   = aws_api_gateway_integration.lambda.uri
      schema        = aws_api_gateway_model.request.schema
    }))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_stage" "this" {
  # checkov:skip=CKV_AWS_120:Every POST carries different texts: a response cache would never hit and costs per hour.
  # checkov:skip=CKV2_AWS_51:Clients authenticate with Cognito access tokens (or SigV4 / API keys); client certificates authenticate API Gateway to a backend, which is Lambda here.
  # checkov:skip=CKV2_AWS_77:The optional web ACL is passed in (web_acl_arn) and defined, with its managed rule groups, where it is owned.
  # checkov:skip=CKV2_AWS_29:WAF is optional (web_acl_arn); the stage has authentication, request validation and throttling, and a web ACL costs per month.
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = var.xray_tracing

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId        = "$context.requestId"
      ip               = "$context.identity.sourceIp"
      caller           = "$context.identity.caller"
      clientId         = "$context.authorizer.claims.client_id"
      requestTime      = "$context.requestTime"
      httpMethod       = "$context.httpMethod"
      resourcePath     = "$context.resourcePath"
      status           = "$context.status"
      responseLength   = "$context.responseLength"
      latencyMs        = "$context.responseLatency"
      integrationMs    = "$context.integration.latency"
      integrationError = "$context.integration.error"
      errorMessage     = "$context.error.message"
    })
  }

  tags = var.tags

  # Access logs need the encrypted group to exist first, and the account's CloudWatch Logs role
  # (terraform/account): without it AWS refuses the stage with "CloudWatch Logs role ARN must be set in
  # account settings to enable logging". https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html
  depends_on = [aws_cloudwatch_log_group.execution]
}

resource "aws_api_gateway_method_settings" "all" {
  # checkov:skip=CKV_AWS_225:Every POST carries different texts: a response cache would never hit and costs per hour.
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    throttling_rate_limit  = var.throttle.rate_limit
    throttling_burst_limit = var.throttle.burst_limit
    metrics_enabled        = true
    logging_level          = "INFO"
    # full request/response logging would write request texts to CloudWatch: never
    data_trace_enabled = false
    caching_enabled    = false
  }
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.web_acl_arn == null ? 0 : 1

  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = var.web_acl_arn
}
