output "api_url" {
  description = "Invoke URL of the stage; send requests to POST {api_url}/sentiment."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "rest_api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "execution_arn" {
  description = "Execution ARN of the stage's POST /sentiment (grant execute-api:Invoke on it in iam mode)."
  value       = "${aws_api_gateway_stage.this.execution_arn}/POST/sentiment"
}

output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_role_arn" {
  description = "ARN of the Lambda's execution role."
  value       = aws_iam_role.lambda.arn
}

output "auth" {
  description = "What a client needs to authenticate: mode, and for cognito the pool, client, issuer, token URL and scope (the client secret is the separate sensitive output client_secret)."
  value = {
    mode         = var.auth_mode
    user_pool_id = local.cognito ? aws_cognito_user_pool.this[0].id : null
    client_id    = local.cognito ? aws_cognito_user_pool_client.machine[0].id : null
    issuer       = local.cognito ? "https://${aws_cognito_user_pool.this[0].endpoint}" : null
    token_url    = local.cognito ? "https://${aws_cognito_user_pool_domain.this[0].domain}.auth.${local.region}.amazoncognito.com/oauth2/token" : null
    scope        = local.cognito ? local.invoke_scope : null
    api_key_id   = var.auth_mode == "api_key" ? aws_api_gateway_api_key.this[0].id : null
    invoke_arn   = var.auth_mode == "iam" ? "${aws_api_gateway_stage.this.execution_arn}/POST/sentiment" : null
  }
}

output "client_secret" {
  description = "Secret of the Cognito machine client (cognito mode), for the client-credentials token request."
  value       = local.cognito ? aws_cognito_user_pool_client.machine[0].client_secret : null
  sensitive   = true
}
