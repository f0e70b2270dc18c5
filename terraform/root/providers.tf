provider "aws" {
  region = var.aws_region
  # an apply with credentials for another account fails before touching anything
  allowed_account_ids = [var.aws_account_id]

  default_tags {
    tags = {
      "hubdeploy:environment" = var.environment
      "hubdeploy:managed-by"  = "terraform"
      "hubdeploy:repository"  = var.repository
    }
  }
}
