"""Images: tag names and OCI labels (:mod:`.tags`), and the tag work of ecr-push (:mod:`.push`)."""

from typing import Literal

Tool = Literal["docker", "buildah", "podman"]  # the container tools of pipekit.clients.containers.TOOLS
