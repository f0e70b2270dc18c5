# GitHub Actions authenticates to AWS with short-lived OIDC tokens: no access keys exist anywhere.
# Two roles, so a pull request can never change infrastructure:
# - plan: assumable from pull requests, the merge queue and the default branch; reads the stack and state
#   (never the state lock: its plans are speculative) and writes only content-addressed artifacts (publish
#   never overwrites a key);
# - apply: assumable only from jobs bound to a GitHub Environment (dev/staging/prod), so required
#   reviewers and branch rules on those environments gate every apply and destroy.

locals {
  github_host = "token.actions.githubusercontent.com"
  oidc_arn    = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : data.aws_iam_openid_connect_provider.github[0].arn

  plan_subjects = ["repo:${var.repository}:pull_request", "repo:${var.repository}:ref:refs/heads/${var.default_branch}"]
  # the merge queue tests each entry on a temporary branch gh-readonly-queue/<base>/pr-<n>-<sha>
  # https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/configuring-pull-request-merges/managing-a-merge-queue
  merge_queue_subject = "repo:${var.repository}:ref:refs/heads/gh-readonly-queue/${var.default_branch}/*"
  apply_subjects      = [for env in var.environments : "repo:${var.repository}:environment:${env}"]
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://${local.github_host}"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 0 : 1

  url = "https://${local.github_host}"
}

data "aws_iam_policy_document" "trust_plan" {
  statement {
    sid     = "GitHubPlan"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.github_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
    # exact subjects: pull requests of this repository and its default branch, nothing else
    condition {
      test     = "StringEquals"
      variable = "${local.github_host}:sub"
      values   = local.plan_subjects
    }
  }
  # the merge queue's temporary branches of the default branch (a second statement: conditions in one are ANDed)
  statement {
    sid     = "GitHubMergeQueue"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.github_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "${local.github_host}:sub"
      values   = [local.merge_queue_subject]
    }
  }
}

data "aws_iam_policy_document" "trust_apply" {
  statement {
    sid     = "GitHubEnvironments"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.github_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
    # only jobs bound to one of the environments: their protection rules gate every apply
    condition {
      test     = "StringEquals"
      variable = "${local.github_host}:sub"
      values   = local.apply_subjects
    }
  }
}

resource "aws_iam_role" "plan" {
  name                 = "${var.name_prefix}-github-plan"
  description          = "GitHub Actions (${var.repository}): terraform plan, drift check, artifact publish; cannot change infrastructure"
  assume_role_policy   = data.aws_iam_policy_document.trust_plan.json
  max_session_duration = var.max_session_duration
}

resource "aws_iam_role" "apply" {
  name                 = "${var.name_prefix}-github-apply"
  description          = "GitHub Actions (${var.repository}) jobs in environments ${join(", ", var.environments)}: terraform apply/destroy, smoke test, rollback"
  assume_role_policy   = data.aws_iam_policy_document.trust_apply.json
  max_session_duration = var.max_session_duration
}
