"""The emulated AWS control plane: moto_server on loopback, with the shims Terraform needs.

Only tests and the local stack use this package; nothing here is imported on the real-AWS path.
"""
