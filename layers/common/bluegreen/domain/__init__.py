"""Release logic with no AWS SDK in it: every decision here is a plain function of its inputs."""
