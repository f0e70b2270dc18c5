output "oidc_provider_arn" {
  description = "ARN of the account's GitHub OIDC provider."
  value       = local.oidc_arn
}

output "plan_role_arn" {
  description = "Read-only plan role: repository variable AWS_PLAN_ROLE_ARN."
  value       = aws_iam_role.plan.arn
}

output "apply_role_arn" {
  description = "Apply role: variable AWS_APPLY_ROLE_ARN of each GitHub Environment (or of the repository)."
  value       = aws_iam_role.apply.arn
}

output "plan_role_subjects" {
  description = "OIDC subjects allowed to assume the plan role."
  value       = local.plan_subjects
}

output "apply_role_subjects" {
  description = "OIDC subjects allowed to assume the apply role."
  value       = local.apply_subjects
}

output "github_variables" {
  description = "Repository variables to set (Settings -> Secrets and variables -> Actions -> Variables)."
  value = {
    AWS_ACCOUNT_ID     = var.aws_account_id
    AWS_REGION         = var.aws_region
    AWS_PLAN_ROLE_ARN  = aws_iam_role.plan.arn
    AWS_APPLY_ROLE_ARN = aws_iam_role.apply.arn
  }
}
