"""AWS adapters: each takes its boto3 client; nothing above this package imports boto3."""
