"""Sub-commands of the bluegreen CLI, one module per group."""
