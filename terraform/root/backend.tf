# Partial S3 backend: one root, one state per environment. Everything that tells the environments
# apart comes from `terraform init`, never from a file in this folder:
#   -backend-config=bucket=<state bucket>   (hubdeploy bootstrap creates it; hubdeploy.infra.naming names it)
#   -backend-config=region=<region>
#   -backend-config=key=envs/<env>/terraform.tfstate   (hubdeploy.infra.naming.state_key, the one source)
terraform {
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}
