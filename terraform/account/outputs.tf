output "apigateway_cloudwatch_role_arn" {
  description = "Role API Gateway uses in this account and region to write access and execution logs (the account's cloudwatchRoleArn)."
  value       = aws_api_gateway_account.this.cloudwatch_role_arn
}

output "account" {
  description = "The account and region these settings apply to."
  value = {
    account_id = var.aws_account_id
    region     = var.aws_region
  }
}

output "stack_boundary_arn" {
  description = "Permissions boundary every role of the environments must carry (terraform/root looks it up by name; the apply role may create roles only with it)."
  value       = aws_iam_policy.stack_boundary.arn
}
