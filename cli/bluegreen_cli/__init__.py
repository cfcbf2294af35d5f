"""Operator CLI for bluegreen and the local stack that emulates its AWS account."""
