"""Atlassian's published schema of ``bitbucket-pipelines.yml``, where pipekit can find it.

It is a data file pipekit does not ship yet: ``PIPEKIT_SCHEMAS_DIR`` (as for ``pipekit init``)
names the folder holding ``bitbucket-pipelines.schema.json``. Without it only pipekit's own
keyword checks run (which the schema, being permissive about unknown keys, does not replace).
"""

from __future__ import annotations

from collections.abc import Mapping

from pipekit.pipelines.model import PipelineFile

MAX_MESSAGE = 240


def check(file: PipelineFile, env: Mapping[str, str]) -> bool:
    """Validate against the schema; ``False`` when no schema is at hand."""
    from pipekit.onboarding import schemas

    directory = schemas.directory(env)
    if directory is None or not (directory / schemas.BITBUCKET).is_file():
        return False
    import jsonschema

    validator = schemas.validator(directory / schemas.BITBUCKET)
    error = jsonschema.exceptions.best_match(validator.iter_errors(file.document.data))
    if error is not None:
        message = error.message if len(error.message) <= MAX_MESSAGE else error.message[:MAX_MESSAGE] + "..."
        raise file.document.error(tuple(error.absolute_path), f"Atlassian's schema refuses it: {message}")
    return True
