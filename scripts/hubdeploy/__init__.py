"""hubdeploy: take a Hugging Face model from the Hub to a SageMaker endpoint, the GitOps way."""

__version__ = "0.1.0"
