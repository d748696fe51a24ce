"""Images: tag names and OCI labels (:mod:`.tags`), and the tag work of ecr-push (:mod:`.push`)."""
