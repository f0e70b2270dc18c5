terraform {
  # 1.10: S3 backend native locking (use_lockfile); cross-variable validation
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
