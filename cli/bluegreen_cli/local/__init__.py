"""The local stack: an emulated AWS account running the app from template.yaml, on one port."""
