"""The local stack: the deployed endpoint and API served on 127.0.0.1 from what the emulated control plane
says is deployed (moto runs no model and no Lambda, see EMULATOR-NOTES "What moto does not do").

- `deployment`: endpoint -> endpoint config -> model -> ModelDataUrl + expected sha256, read via boto3.
- `artifacts`: download that exact model.tar.gz, verify its sha256, unpack into a digest-keyed cache.
- `toolkit`: load and call it through the real Hugging Face inference toolkit handler service.
- `runtime`: a SageMaker-runtime-compatible HTTP server (InvokeEndpoint + container /ping, /invocations).
- `api`: API Gateway proxy in front of our Lambda handler from lambda.zip, with the deployed auth mode.
- `daemon`, `stack`: `hubdeploy local up|status|down`.
"""
