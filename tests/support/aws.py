"""Names the tests share with the emulated account."""

ARTIFACT_BUCKET = "hubdeploy-artifacts-123456789012-us-east-1"  # naming rule, moto's account, us-east-1
