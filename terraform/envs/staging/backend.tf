# Partial S3 backend: bucket and region come from
#   terraform init -backend-config=bucket=<state bucket> -backend-config=region=<region>
# (hubdeploy bootstrap creates the bucket; hubdeploy.naming.state_bucket_name names it).
terraform {
  backend "s3" {
    key          = "envs/staging/terraform.tfstate"
    use_lockfile = true
    encrypt      = true
  }
}
