"""pipekit: small, composable CI/CD pipeline steps."""

__version__ = "0.1.0"
