locals {
  state_arn    = "arn:aws:s3:::${var.state_bucket}"
  artifact_arn = "arn:aws:s3:::${var.artifact_bucket}"
  # IAM roles the env roots create are named hubdeploy-<env>-... (name_prefix in the modules). The
  # pattern names each env, so it never matches this root's own hubdeploy-github-* roles: the apply
  # role cannot grant itself more.
  stack_roles = [for env in var.environments : "arn:aws:iam::${var.aws_account_id}:role/${var.name_prefix}-${env}-*"]
  # the only managed policy the env roots attach (API Gateway's CloudWatch logging role)
  attachable_policies = ["arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"]
  # Read-only calls terraform plan makes while refreshing the stack (no data reads: no GetObject,
  # no secret values beyond what the provider refreshes for the Cognito client it manages).
  read_actions = [
    "apigateway:GET",
    "application-autoscaling:Describe*",
    "application-autoscaling:ListTagsForResource",
    "cloudwatch:Describe*",
    "cloudwatch:ListTagsForResource",
    "cognito-idp:Describe*",
    "cognito-idp:GetUserPoolMfaConfig",
    "cognito-idp:List*",
    "iam:GetPolicy*",
    "iam:GetRole*",
    "iam:ListAttachedRolePolicies",
    "iam:ListInstanceProfilesForRole",
    "iam:ListRolePolicies",
    "iam:ListRoleTags",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListResourceTags",
    "lambda:GetFunction*",
    "lambda:GetPolicy",
    "lambda:ListTags",
    "lambda:ListVersionsByFunction",
    "logs:DescribeLogGroups",
    "logs:ListTagsForResource",
    "logs:ListTagsLogGroup",
    "sagemaker:Describe*",
    "sagemaker:List*",
    "sns:GetTopicAttributes",
    "sns:ListTagsForResource",
    "sqs:GetQueueAttributes",
    "sqs:ListQueueTags",
    "ecr:DescribeImages",
    "ecr:DescribeRepositories",
  ]
}

data "aws_iam_policy_document" "plan" {
  # checkov:skip=CKV_AWS_356: refresh reads resources whose ids are generated (Cognito pools, KMS keys, API ids); read-only, no data reads
  statement {
    sid       = "RefreshStack"
    actions   = local.read_actions
    resources = ["*"]
  }

  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning"]
    resources = [local.state_arn, local.artifact_arn]
  }

  statement {
    sid       = "ReadState"
    actions   = ["s3:GetObject"]
    resources = ["${local.state_arn}/envs/*"]
  }

  # use_lockfile: a plan takes the lock by writing <key>.tflock and deletes it afterwards
  statement {
    sid       = "StateLock"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.state_arn}/envs/*/terraform.tfstate.tflock"]
  }

  # publish: content-addressed keys, conditional put (never overwrites), tags; no delete
  statement {
    sid = "PublishArtifacts"
    actions = [
      "s3:GetObject",
      "s3:GetObjectTagging",
      "s3:PutObject",
      "s3:PutObjectTagging",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${local.artifact_arn}/*"]
  }
}

resource "aws_iam_role_policy" "plan" {
  name   = "plan"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.plan.json
}

data "aws_iam_policy_document" "apply" {
  # checkov:skip=CKV_AWS_356: create APIs (CreateKey, CreateRestApi, CreateUserPool) accept no resource ARN; scoped by service instead
  # checkov:skip=CKV_AWS_111: the apply role's job is to write the stack; IAM writes are limited to the env roots' own roles
  # checkov:skip=CKV_AWS_109: PutKeyPolicy and the stack roles' policies are part of the stack; IAM is limited to hubdeploy-<env>-* roles
  # checkov:skip=CKV_AWS_110: no escalation path: IAM writes only on hubdeploy-<env>-* roles, PassRole only to SageMaker/Lambda/API Gateway, attach only the API Gateway logging policy
  # checkov:skip=CKV_AWS_107: cognito-idp covers the machine client the stack manages (its secret is a Terraform output)
  statement {
    sid       = "RefreshStack"
    actions   = local.read_actions
    resources = ["*"]
  }

  # the services the env roots manage; scoped by service, not by resource, because names are
  # generated (name_prefix) and several create APIs accept no resource-level condition
  statement {
    sid = "ManageStack"
    actions = [
      "apigateway:DELETE",
      "apigateway:PATCH",
      "apigateway:POST",
      "apigateway:PUT",
      "application-autoscaling:*",
      "cloudwatch:DeleteAlarms",
      "cloudwatch:PutMetricAlarm",
      "cloudwatch:TagResource",
      "cloudwatch:UntagResource",
      "cognito-idp:*",
      # Lambda env-var and SageMaker volume encryption with the stack's keys: the caller needs grants
      "kms:CreateGrant",
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:RetireGrant",
      "kms:CreateAlias",
      "kms:CreateKey",
      "kms:DeleteAlias",
      "kms:EnableKeyRotation",
      "kms:PutKeyPolicy",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
      "lambda:AddPermission",
      "lambda:CreateFunction",
      "lambda:DeleteFunction",
      "lambda:PutFunctionConcurrency",
      "lambda:DeleteFunctionConcurrency",
      "lambda:RemovePermission",
      "lambda:TagResource",
      "lambda:UntagResource",
      "lambda:UpdateFunctionCode",
      "lambda:UpdateFunctionConfiguration",
      "logs:CreateLogGroup",
      "logs:DeleteLogGroup",
      "logs:PutRetentionPolicy",
      "logs:AssociateKmsKey",
      "logs:DisassociateKmsKey",
      "logs:TagResource",
      "logs:UntagResource",
      "logs:TagLogGroup",
      "sagemaker:AddTags",
      "sagemaker:CreateEndpoint",
      "sagemaker:CreateEndpointConfig",
      "sagemaker:CreateModel",
      "sagemaker:DeleteEndpoint",
      "sagemaker:DeleteEndpointConfig",
      "sagemaker:DeleteModel",
      "sagemaker:DeleteTags",
      "sagemaker:UpdateEndpoint",
      "sagemaker:UpdateEndpointWeightsAndCapacities",
      "sns:CreateTopic",
      "sns:DeleteTopic",
      "sns:SetTopicAttributes",
      "sns:TagResource",
      "sns:UntagResource",
    ]
    resources = ["*"]
  }

  # IAM only for the stack's own roles
  statement {
    sid = "ManageStackRoles"
    actions = [
      "iam:CreateRole",
      "iam:DeleteRole",
      "iam:DeleteRolePolicy",
      "iam:DetachRolePolicy",
      "iam:PutRolePolicy",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
    ]
    resources = local.stack_roles
  }

  statement {
    sid       = "AttachOnlyKnownManagedPolicies"
    actions   = ["iam:AttachRolePolicy"]
    resources = local.stack_roles
    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values   = local.attachable_policies
    }
  }

  statement {
    sid       = "PassStackRoles"
    actions   = ["iam:PassRole"]
    resources = local.stack_roles
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com", "lambda.amazonaws.com", "apigateway.amazonaws.com"]
    }
  }

  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["sagemaker.application-autoscaling.amazonaws.com", "ops.apigateway.amazonaws.com"]
    }
  }

  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning"]
    resources = [local.state_arn, local.artifact_arn]
  }

  statement {
    sid       = "State"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.state_arn}/envs/*"]
  }

  statement {
    sid = "Artifacts"
    actions = [
      "s3:GetObject",
      "s3:GetObjectTagging",
      "s3:PutObject",
      "s3:PutObjectTagging",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${local.artifact_arn}/*"]
  }
}

resource "aws_iam_role_policy" "apply" {
  name   = "apply"
  role   = aws_iam_role.apply.id
  policy = data.aws_iam_policy_document.apply.json
}
