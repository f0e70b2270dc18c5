"""Artifacts: from a pinned Hub revision to model.tar.gz and lambda.zip in S3."""
