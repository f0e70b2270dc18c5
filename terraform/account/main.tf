# Settings that are one per account and region, applied once by an administrator (not by the GitHub apply
# role), so that no environment can overwrite them (last apply wins) or take them down with its destroy.

data "aws_partition" "current" {}

# API Gateway writes every REST API's access and execution logs through ONE role per account and region
# (the account's cloudwatchRoleArn). Without it AWS refuses a stage with access logging or method logging:
# "CloudWatch Logs role ARN must be set in account settings to enable logging".
# https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html
data "aws_iam_policy_document" "apigateway_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apigateway_cloudwatch" {
  name               = "${var.name_prefix}-apigw-logs-${var.aws_region}"
  description        = "API Gateway (account-wide, ${var.aws_region}): push access and execution logs to CloudWatch Logs"
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume.json
}

resource "aws_iam_role_policy_attachment" "apigateway_cloudwatch" {
  role       = aws_iam_role.apigateway_cloudwatch.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  cloudwatch_role_arn = aws_iam_role.apigateway_cloudwatch.arn

  # API Gateway checks the role can be assumed and has the policy when the setting is made
  depends_on = [aws_iam_role_policy_attachment.apigateway_cloudwatch]
}
