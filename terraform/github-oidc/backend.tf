# Partial S3 backend in the state bucket `hubdeploy bootstrap` created:
#   terraform init -backend-config=bucket=<state bucket> -backend-config=region=<region>
terraform {
  backend "s3" {
    key          = "github-oidc/terraform.tfstate"
    use_lockfile = true
    encrypt      = true
  }
}
