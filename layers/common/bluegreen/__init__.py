"""bluegreen: the shared runtime package of the release orchestrator's Lambda functions."""
