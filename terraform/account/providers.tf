provider "aws" {
  region = var.aws_region
  # account-wide settings must never be changed in the wrong account
  allowed_account_ids = [var.aws_account_id]

  default_tags {
    tags = {
      "hubdeploy:managed-by" = "terraform"
      "hubdeploy:component"  = "account"
      "hubdeploy:repository" = var.repository
    }
  }
}
