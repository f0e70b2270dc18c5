output "api_url" {
  description = "Invoke URL of the API stage: POST {api_url}/sentiment."
  value       = module.api.api_url
}

output "endpoint_name" {
  description = "SageMaker endpoint serving this environment."
  value       = module.endpoint.endpoint_name
}

output "endpoint_config_name" {
  description = "Endpoint configuration the endpoint serves after this apply (smoke tests compare it with DescribeEndpoint)."
  value       = module.endpoint.endpoint_config_name
}

output "request_limits" {
  description = "What the API accepts per request (max_texts, max_text_chars, max_body_bytes), derived from request-limits.json for the env's instance type; `hubdeploy smoke` batches by max_texts."
  value       = local.sizing.limits
}

output "model_name" {
  description = "SageMaker model of the current artifact."
  value       = module.endpoint.model_name
}

output "auth" {
  description = "How clients authenticate (mode, user_pool_id, client_id, issuer, token_url, scope, ...)."
  value       = module.api.auth
}

output "auth_client_secret" {
  description = "Secret of the Cognito machine client (cognito mode)."
  value       = module.api.client_secret
  sensitive   = true
}

output "hub_model" {
  description = "The pin this environment serves."
  value = {
    hub_model_id          = var.hub_model_id
    hub_revision          = var.hub_revision
    model_artifact_sha256 = var.model_artifact_sha256
  }
}
