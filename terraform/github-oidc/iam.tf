locals {
  state_arn    = "arn:aws:s3:::${var.state_bucket}"
  artifact_arn = "arn:aws:s3:::${var.artifact_bucket}"
  # IAM roles the env roots create are named hubdeploy-<env>-... (name_prefix in the modules). The
  # pattern names each env, so it never matches this root's own hubdeploy-github-* roles: the apply
  # role cannot grant itself more.
  stack_roles = [for env in var.environments : "arn:aws:iam::${var.aws_account_id}:role/${var.name_prefix}-${env}-*"]
  # the permissions boundary terraform/account creates; every role of the stack must carry it
  boundary_arn = "arn:aws:iam::${var.aws_account_id}:policy/${var.name_prefix}-stack-boundary"
  scope        = "${var.aws_region}:${var.aws_account_id}"
  sagemaker    = "arn:aws:sagemaker:${local.scope}"
  log_group_writes = [
    "logs:AssociateKmsKey",
    "logs:CreateLogGroup",
    "logs:DeleteLogGroup",
    "logs:DisassociateKmsKey",
    "logs:PutRetentionPolicy",
    "logs:TagLogGroup",
    "logs:TagResource",
    "logs:UntagLogGroup",
    "logs:UntagResource",
  ]
  # Read-only calls terraform plan makes while refreshing the stack (no data reads: no GetObject,
  # no secret values beyond what the provider refreshes for the Cognito client it manages). Nothing in
  # the stack uses SNS, SQS or ECR repositories of its own: no reads of those.
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
    "iam:ListPolicies", # terraform/root looks up the stack boundary by name
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

  # No state lock: every plan this role runs is speculative (PR, merge queue, deploy gate, drift, destroy plan:
  # `hubdeploy plan --no-lock`), so a PR job can never hold, leak or break an environment's lock.

  # publish: new keys only, never an overwrite (the artifact bucket's policy refuses a PutObject or
  # CompleteMultipartUpload without If-None-Match, `hubdeploy bootstrap`), tags; no delete
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
  # checkov:skip=CKV_AWS_356:Only reads (refresh), CreateKey/CreateUserPool (no ARN exists before the call; both require the environment tag) and Application Auto Scaling (no ARN before registering; restricted to SageMaker variants) use "*".
  # checkov:skip=CKV_AWS_111:Writes are scoped to the stack: names hubdeploy-<env>*, the environment tag on KMS keys, user pools and execution log groups, API Gateway paths of REST APIs, API keys and usage plans.
  # checkov:skip=CKV_AWS_109:Permissions-management actions are PutKeyPolicy on keys tagged with an environment and IAM writes on hubdeploy-<env>-* roles that must carry the stack boundary; changing or removing the boundary is denied.
  # checkov:skip=CKV_AWS_110:No escalation path: every role the apply role creates or edits must carry the stack boundary (iam:PermissionsBoundary), the boundary cannot be removed or edited, PassRole only to SageMaker and Lambda.
  # checkov:skip=CKV_AWS_107:Cognito reads include the machine client the stack manages (its secret is a Terraform output and in the state this role reads anyway).
  statement {
    sid       = "RefreshStack"
    actions   = local.read_actions
    resources = ["*"]
  }

  statement {
    sid = "SageMaker"
    actions = [
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
    ]
    resources = flatten([for env in var.environments : [
      "${local.sagemaker}:model/${var.name_prefix}-${env}-*",
      "${local.sagemaker}:endpoint-config/${var.name_prefix}-${env}-*",
      "${local.sagemaker}:endpoint/${var.name_prefix}-${env}",
    ]])
  }

  statement {
    sid = "LambdaFunction"
    actions = [
      "lambda:AddPermission",
      "lambda:CreateFunction",
      "lambda:DeleteFunction",
      "lambda:DeleteFunctionConcurrency",
      "lambda:PutFunctionConcurrency",
      "lambda:RemovePermission",
      "lambda:TagResource",
      "lambda:UntagResource",
      "lambda:UpdateFunctionCode",
      "lambda:UpdateFunctionConfiguration",
    ]
    resources = [for env in var.environments : "arn:aws:lambda:${local.scope}:function:${var.name_prefix}-${env}"]
  }

  statement {
    sid     = "NamedLogGroups"
    actions = local.log_group_writes
    resources = flatten([for env in var.environments : [
      for group in ["/aws/lambda/${var.name_prefix}-${env}", "/aws/apigateway/${var.name_prefix}-${env}/*", "/aws/sagemaker/Endpoints/${var.name_prefix}-${env}"] :
      ["arn:aws:logs:${local.scope}:log-group:${group}", "arn:aws:logs:${local.scope}:log-group:${group}:*"]
    ]])
  }

  # API Gateway names the execution log group after the API's generated id: scoped by the environment tag
  statement {
    sid       = "CreateExecutionLogGroups"
    actions   = ["logs:CreateLogGroup", "logs:TagResource", "logs:TagLogGroup"]
    resources = ["arn:aws:logs:${local.scope}:log-group:API-Gateway-Execution-Logs_*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/hubdeploy:environment"
      values   = var.environments
    }
  }

  statement {
    sid       = "ManageExecutionLogGroups"
    actions   = local.log_group_writes
    resources = ["arn:aws:logs:${local.scope}:log-group:API-Gateway-Execution-Logs_*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/hubdeploy:environment"
      values   = var.environments
    }
  }

  statement {
    sid     = "Alarms"
    actions = ["cloudwatch:DeleteAlarms", "cloudwatch:PutMetricAlarm", "cloudwatch:TagResource", "cloudwatch:UntagResource"]
    # the stack's rollback alarms, and the alarms target tracking creates for an autoscaled variant
    resources = flatten([for env in var.environments : [
      "arn:aws:cloudwatch:${local.scope}:alarm:${var.name_prefix}-${env}-*",
      "arn:aws:cloudwatch:${local.scope}:alarm:TargetTracking-endpoint/${var.name_prefix}-${env}/*",
    ]])
  }

  statement {
    sid = "ScaleSageMakerVariants"
    actions = [
      "application-autoscaling:DeleteScalingPolicy",
      "application-autoscaling:DeregisterScalableTarget",
      "application-autoscaling:PutScalingPolicy",
      "application-autoscaling:RegisterScalableTarget",
    ]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "application-autoscaling:service-namespace"
      values   = ["sagemaker"]
    }
  }

  statement {
    sid       = "TagScalableTargets"
    actions   = ["application-autoscaling:TagResource", "application-autoscaling:UntagResource"]
    resources = ["arn:aws:application-autoscaling:${local.scope}:scalable-target/*"]
  }

  # KMS key ids are generated: a key is the stack's when it carries the environment tag (provider default_tags)
  statement {
    sid       = "CreateTaggedKeys"
    actions   = ["kms:CreateKey"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/hubdeploy:environment"
      values   = var.environments
    }
  }

  statement {
    sid = "ManageTaggedKeys"
    actions = [
      "kms:CreateAlias",
      "kms:DeleteAlias",
      "kms:EnableKeyRotation",
      "kms:PutKeyPolicy",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
    ]
    resources = ["arn:aws:kms:${local.scope}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/hubdeploy:environment"
      values   = var.environments
    }
  }

  statement {
    # SageMaker encrypts the instance volumes with the endpoint's key through a grant made with the caller's rights
    sid       = "GrantTaggedKeysToServices"
    actions   = ["kms:CreateGrant"]
    resources = ["arn:aws:kms:${local.scope}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/hubdeploy:environment"
      values   = var.environments
    }
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }

  statement {
    sid       = "KeyAliases"
    actions   = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
    resources = [for env in var.environments : "arn:aws:kms:${local.scope}:alias/${var.name_prefix}-${env}-*"]
  }

  # user pool ids are generated: a pool is the stack's when it carries the environment tag
  statement {
    sid       = "CreateTaggedUserPools"
    actions   = ["cognito-idp:CreateUserPool"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/hubdeploy:environment"
      values   = var.environments
    }
  }

  statement {
    sid = "ManageTaggedUserPools"
    actions = [
      "cognito-idp:CreateResourceServer",
      "cognito-idp:CreateUserPoolClient",
      "cognito-idp:CreateUserPoolDomain",
      "cognito-idp:DeleteResourceServer",
      "cognito-idp:DeleteUserPool",
      "cognito-idp:DeleteUserPoolClient",
      "cognito-idp:DeleteUserPoolDomain",
      "cognito-idp:SetUserPoolMfaConfig",
      "cognito-idp:TagResource",
      "cognito-idp:UntagResource",
      "cognito-idp:UpdateResourceServer",
      "cognito-idp:UpdateUserPool",
      "cognito-idp:UpdateUserPoolClient",
      "cognito-idp:UpdateUserPoolDomain",
    ]
    resources = ["arn:aws:cognito-idp:${local.scope}:userpool/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/hubdeploy:environment"
      values   = var.environments
    }
  }

  # API Gateway authorizes by path: REST APIs (and everything under them), API keys, usage plans and their tags.
  # Not /account (terraform/account owns the CloudWatch role), domain names or VPC links.
  statement {
    sid     = "RestApis"
    actions = ["apigateway:DELETE", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"]
    resources = [for path in ["/restapis", "/restapis/*", "/apikeys", "/apikeys/*", "/usageplans", "/usageplans/*", "/tags/*"] :
      "arn:aws:apigateway:${var.aws_region}::${path}"
    ]
  }

  # IAM: only roles named hubdeploy-<env>-* that carry the stack boundary. iam:PermissionsBoundary exists for
  # the calls that create a role or change what it may do; the others act on roles that have it already.
  # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html
  statement {
    sid = "StackRolesWithTheBoundary"
    actions = [
      "iam:CreateRole",
      "iam:DeleteRolePolicy",
      "iam:PutRolePermissionsBoundary",
      "iam:PutRolePolicy",
    ]
    resources = local.stack_roles
    condition {
      test     = "ArnEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.boundary_arn]
    }
  }

  statement {
    sid = "StackRoles"
    actions = [
      "iam:DeleteRole",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
    ]
    resources = local.stack_roles
  }

  statement {
    sid       = "PassStackRoles"
    actions   = ["iam:PassRole"]
    resources = local.stack_roles
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com", "lambda.amazonaws.com"]
    }
  }

  statement {
    sid       = "AutoScalingServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:aws:iam::${var.aws_account_id}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/*"]
    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["sagemaker.application-autoscaling.amazonaws.com"]
    }
  }

  statement {
    sid       = "NeverWithoutTheBoundary"
    effect    = "Deny"
    actions   = ["iam:CreateRole", "iam:PutRolePermissionsBoundary"]
    resources = ["*"]
    condition {
      test     = "ArnNotEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.boundary_arn]
    }
  }

  statement {
    sid       = "NeverLoosenTheBoundary"
    effect    = "Deny"
    actions   = ["iam:DeleteRolePermissionsBoundary", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"]
    resources = ["*"]
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

  # publish in the deploy job: new keys only (the bucket policy refuses a write without If-None-Match)
  statement {
    sid = "Artifacts"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:GetObject",
      "s3:GetObjectTagging",
      "s3:ListMultipartUploadParts",
      "s3:PutObject",
      "s3:PutObjectTagging",
    ]
    resources = ["${local.artifact_arn}/*"]
  }
}

resource "aws_iam_role_policy" "apply" {
  name   = "apply"
  role   = aws_iam_role.apply.id
  policy = data.aws_iam_policy_document.apply.json
}
