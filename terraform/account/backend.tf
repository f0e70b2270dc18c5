# Partial S3 backend in the state bucket `hubdeploy bootstrap` created (one per account and region, so
# this key is one state per account and region):
#   terraform init -backend-config=bucket=<state bucket> -backend-config=region=<region>
terraform {
  backend "s3" {
    key          = "account/terraform.tfstate"
    use_lockfile = true
    encrypt      = true
  }
}
