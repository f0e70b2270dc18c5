locals {
  rollback_alarms = {
    "invocation-5xx" = {
      metric    = "Invocation5XXErrors"
      namespace = "AWS/SageMaker"
      statistic = "Sum"
      threshold = var.rollback_alarms.invocation_5xx_errors
      what      = "the model container answers with server errors"
    }
    "invocation-4xx" = {
      metric    = "Invocation4XXErrors"
      namespace = "AWS/SageMaker"
      statistic = "Sum"
      threshold = var.rollback_alarms.invocation_4xx_errors
      what      = "requests are rejected (a new model that changed its input contract?)"
    }
    "model-latency" = {
      metric    = "ModelLatency"
      namespace = "AWS/SageMaker"
      statistic = "Average"
      threshold = var.rollback_alarms.model_latency_micros
      what      = "the model is slower than the latency budget"
    }
  }
}

# These alarms watch the endpoint's variant. During a blue/green update SageMaker watches them
# through the bake period and rolls traffic back to the old fleet when one fires.
resource "aws_cloudwatch_metric_alarm" "rollback" {
  for_each = local.rollback_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "Endpoint ${var.name}: ${each.value.what}. Rolls back a blue/green update."
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  period              = 60
  evaluation_periods  = var.rollback_alarms.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  dimensions = {
    EndpointName = var.name
    VariantName  = local.variant_name
  }

  tags = var.tags
}
