provider "aws" {
  region = var.aws_region
  # roles that can deploy must never be created in the wrong account
  allowed_account_ids = [var.aws_account_id]

  default_tags {
    tags = {
      "hubdeploy:managed-by" = "terraform"
      "hubdeploy:component"  = "github-oidc"
      "hubdeploy:repository" = var.repository
    }
  }
}
