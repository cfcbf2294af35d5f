"""One module per step of the flow: domain decisions applied through adapters passed in."""
