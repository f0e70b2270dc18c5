"""GitOps: pins and promotion, plans, the PR comment, the review record, smoke, rollback, drift."""
