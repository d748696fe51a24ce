"""``BITBUCKET_STEP_OIDC_TOKEN`` for a step with ``oidc: true``: a JWT with the claims Bitbucket documents.

Bitbucket's identity provider signs its tokens with keys published at the issuer URL; this
token is signed with a key made for the run (HS256), so it has the right shape and claims
(``iss``, ``aud``, ``sub``, the workspace, repository, pipeline, step, branch and deployment
environment UUIDs) but a real AWS STS would reject it. Local stand-ins (moto) accept it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

from pipekit.core import masking

LIFETIME_S = 3600
_KEY = secrets.token_bytes(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def token(
    *,
    workspace: str,
    workspace_uuid: str,
    repository_uuid: str,
    pipeline_uuid: str,
    step_uuid: str,
    branch: str | None,
    environment_uuid: str | None,
) -> str:
    now = int(time.time())
    issuer = f"https://api.bitbucket.org/2.0/workspaces/{workspace}/pipelines-config/identity/oidc"
    claims = {
        "iss": issuer,
        "aud": f"ari:cloud:bitbucket::workspace/{workspace_uuid.strip('{}')}",
        "sub": f"{repository_uuid}{environment_uuid or ''}:{step_uuid}",
        "iat": now,
        "exp": now + LIFETIME_S,
        "workspaceUuid": workspace_uuid,
        "repositoryUuid": repository_uuid,
        "pipelineUuid": pipeline_uuid,
        "stepUuid": step_uuid,
    }
    if branch:
        claims["branchName"] = branch
    if environment_uuid:
        claims["deploymentEnvironmentUuid"] = environment_uuid
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "pipekit-local"}).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64(hmac.new(_KEY, f"{head}.{body}".encode(), hashlib.sha256).digest())
    value = f"{head}.{body}.{signature}"
    masking.add_secret(value)
    return value
