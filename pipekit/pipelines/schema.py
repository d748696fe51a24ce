"""Atlassian's published schema of ``bitbucket-pipelines.yml``, as ``pipekit init`` checks against it.

The schema ships inside the package (:mod:`pipekit.onboarding.schemas`, with its licence);
``PIPEKIT_SCHEMAS_DIR`` names a folder whose ``bitbucket-pipelines.schema.json`` wins (a newer
copy). pipekit's own keyword checks run too: the schema is permissive about unknown keys.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipekit.pipelines.model import PipelineFile

MAX_MESSAGE = 240


def check(file: PipelineFile, env: Mapping[str, str]) -> None:
    """Validate against the schema; a refusal is ``BadInput`` naming the line."""
    import jsonschema

    from pipekit.onboarding import schemas

    validator = schemas.validator(schemas.path_of(schemas.directory(env), schemas.BITBUCKET))
    error = jsonschema.exceptions.best_match(validator.iter_errors(file.document.data))
    if error is not None:
        message = error.message if len(error.message) <= MAX_MESSAGE else error.message[:MAX_MESSAGE] + "..."
        raise file.document.error(tuple(error.absolute_path), f"Atlassian's schema refuses it: {message}")
