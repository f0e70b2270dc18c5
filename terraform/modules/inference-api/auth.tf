# Default authentication: a Cognito user pool issuing OAuth2 access tokens to machine clients
# (client-credentials grant). Callers ask the pool's token endpoint for a token with the
# "<name>/invoke" scope and send it as `Authorization: Bearer <token>`; API Gateway checks the
# signature, expiry and scope before the Lambda runs.
locals {
  cognito        = var.auth_mode == "cognito"
  scope_resource = var.name
  invoke_scope   = "${local.scope_resource}/invoke"
}

resource "aws_cognito_user_pool" "this" {
  count = local.cognito ? 1 : 0

  name                = var.name
  deletion_protection = var.deletion_protection ? "ACTIVE" : "INACTIVE"
  # machine clients only: nobody signs up or signs in with a password
  admin_create_user_config {
    allow_admin_create_user_only = true
  }
  password_policy {
    minimum_length    = 14
    require_lowercase = true
    require_uppercase = true
    require_numbers   = true
    require_symbols   = true
  }

  tags = var.tags
}

resource "aws_cognito_resource_server" "api" {
  count = local.cognito ? 1 : 0

  user_pool_id = aws_cognito_user_pool.this[0].id
  identifier   = local.scope_resource
  name         = "${var.name} API"

  scope {
    scope_name        = "invoke"
    scope_description = "Call POST /sentiment"
  }
}

# The hosted token endpoint (https://<domain>.auth.<region>.amazoncognito.com/oauth2/token).
resource "aws_cognito_user_pool_domain" "this" {
  count = local.cognito ? 1 : 0

  domain       = "${var.name}-${local.account_id}"
  user_pool_id = aws_cognito_user_pool.this[0].id
}

resource "aws_cognito_user_pool_client" "machine" {
  count = local.cognito ? 1 : 0

  name                                 = "${var.name}-machine"
  user_pool_id                         = aws_cognito_user_pool.this[0].id
  generate_secret                      = true
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["client_credentials"]
  allowed_oauth_scopes                 = aws_cognito_resource_server.api[0].scope_identifiers
  supported_identity_providers         = ["COGNITO"]
  explicit_auth_flows                  = ["ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true
  access_token_validity                = var.access_token_validity_minutes

  token_validity_units {
    access_token = "minutes"
  }
}

resource "aws_api_gateway_authorizer" "cognito" {
  count = local.cognito ? 1 : 0

  name            = "${var.name}-cognito"
  rest_api_id     = aws_api_gateway_rest_api.this.id
  type            = "COGNITO_USER_POOLS"
  provider_arns   = [aws_cognito_user_pool.this[0].arn]
  identity_source = "method.request.header.Authorization"
}

# Alternative: API keys (x-api-key) with a usage plan that throttles and sets a daily quota.
resource "aws_api_gateway_api_key" "this" {
  count = var.auth_mode == "api_key" ? 1 : 0

  name    = "${var.name}-default"
  enabled = true
  tags    = var.tags
}

resource "aws_api_gateway_usage_plan" "this" {
  count = var.auth_mode == "api_key" ? 1 : 0

  name = var.name

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  throttle_settings {
    rate_limit  = var.throttle.rate_limit
    burst_limit = var.throttle.burst_limit
  }

  quota_settings {
    limit  = var.throttle.daily_quota
    period = "DAY"
  }

  tags = var.tags
}

resource "aws_api_gateway_usage_plan_key" "this" {
  count = var.auth_mode == "api_key" ? 1 : 0

  key_id        = aws_api_gateway_api_key.this[0].id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this[0].id
}
