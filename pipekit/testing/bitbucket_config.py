"""A stand-in for the Bitbucket Cloud API's Pipelines settings of one repository, on 127.0.0.1.

Read-only, shaped like the public API (2.0): paginated ``{"values": [...], "next": URL, "page",
"pagelen", "size"}`` lists of variables (``type``, ``uuid``, ``key``, ``value`` (absent when
``secured``), ``secured``) at ``/2.0/repositories/{ws}/{repo}/pipelines_config/variables``,
``/2.0/workspaces/{ws}/pipelines-config/variables`` and
``/2.0/repositories/{ws}/{repo}/deployments_config/environments/{uuid}/variables``; deployment
environments (``uuid``, ``name``, ``slug``, ``environment_type``) at
``/2.0/repositories/{ws}/{repo}/environments``; the SSH key pair (200 with ``public_key``, or 404)
at ``/2.0/repositories/{ws}/{repo}/pipelines_config/ssh/key_pair``. Requests need
``Authorization: Bearer <token>``. Pages hold ``pagelen`` items (2 by default, to exercise paging).

    with BitbucketSettingsStandIn("acme", "orders", token="t") as bb:
        bb.variables["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/ci"
        bb.environment("dev", {"ARGOCD_AUTH_TOKEN": None})    # None: a secured variable
        env = {"PIPEKIT_BITBUCKET_API_URL": bb.url, "PIPEKIT_BITBUCKET_TOKEN": "t"}
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pipekit.testing.serving import QuietHandler, ServedStandIn, handing_to

TYPES = {"Test": 0, "Staging": 1, "Production": 2}


class BitbucketSettingsStandIn(ServedStandIn):
    def __init__(
        self, workspace: str, repo: str, *, token: str = "bitbucket-token", pagelen: int = 2
    ) -> None:
        self.workspace, self.repo, self.token, self.pagelen = workspace, repo, token, pagelen
        self.variables: dict[str, str | None] = {}  # repository variables (None: secured)
        self.workspace_variables: dict[str, str | None] = {}
        self.environments: dict[str, tuple[str, dict[str, str | None]]] = {}  # name -> (uuid, variables)
        self.kinds: dict[str, str] = {}  # environment -> its type (Test, Staging, Production)
        self.ssh_key = False
        self.requests: list[str] = []
        self._serve_on(handing_to(self._get, "GET", keep_alive=False), "bitbucket-settings-standin")
        self.url = f"http://127.0.0.1:{self.port}"

    def _get(self, h: QuietHandler) -> None:
        self.requests.append(h.path)
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return h.reply_json(401, {"type": "error", "error": {"message": "Unauthorized"}})
        h.reply_json(*self.answer(h.path))

    def environment(
        self, name: str, variables: dict[str, str | None] | None = None, kind: str = "Test"
    ) -> str:
        """Add (or replace) a deployment environment; its uuid."""
        env_uuid = self.environments.get(name, (f"{{{uuidlib.uuid4()}}}", {}))[0]
        self.environments[name] = (env_uuid, dict(variables or {}))
        self.kinds[name] = kind
        return env_uuid

    def answer(self, raw: str) -> tuple[int, Any]:
        split = urlsplit(raw)
        path, page = unquote(split.path).rstrip("/"), int((parse_qs(split.query).get("page") or ["1"])[0])
        repo = f"/2.0/repositories/{self.workspace}/{self.repo}"
        if path == f"{repo}/pipelines_config/variables":
            return 200, self._page(path, page, _variables(self.variables, "pipeline_variable"))
        if path == f"/2.0/workspaces/{self.workspace}/pipelines-config/variables":
            return 200, self._page(
                path, page, _variables(self.workspace_variables, "workspace_pipeline_variable")
            )
        if path == f"{repo}/environments":
            kinds = self.kinds
            envs = [
                {
                    "type": "deployment_environment",
                    "uuid": env_uuid,
                    "name": name,
                    "slug": name.lower(),
                    "environment_type": {
                        "type": "deployment_environment_type",
                        "name": kinds.get(name, "Test"),
                        "rank": TYPES.get(kinds.get(name, "Test"), 0),
                    },
                }
                for name, (env_uuid, _vars) in self.environments.items()
            ]
            return 200, self._page(path, page, envs)
        for _name, (env_uuid, variables) in self.environments.items():
            if path in (
                f"{repo}/deployments_config/environments/{env_uuid}/variables",
                f"{repo}/deployments_config/environments/{env_uuid.strip('{}')}/variables",
            ):
                return 200, self._page(path, page, _variables(variables, "deployment_variable"))
        if path == f"{repo}/pipelines_config/ssh/key_pair":
            if self.ssh_key:
                return 200, {"type": "pipeline_ssh_key_pair", "public_key": "ssh-ed25519 AAAA... pipelines"}
            return 404, {"type": "error", "error": {"message": "Not found"}}
        return 404, {"type": "error", "error": {"message": f"No such resource: {path}"}}

    def _page(self, path: str, page: int, values: list[dict[str, Any]]) -> dict[str, Any]:
        start = (page - 1) * self.pagelen
        body: dict[str, Any] = {
            "pagelen": self.pagelen,
            "size": len(values),
            "page": page,
            "values": values[start : start + self.pagelen],
        }
        if start + self.pagelen < len(values):
            body["next"] = f"{self.url}{path}?page={page + 1}"
        return body


def _variables(found: dict[str, str | None], kind: str) -> list[dict[str, Any]]:
    out = []
    for key, value in found.items():
        item: dict[str, Any] = {
            "type": kind,
            "uuid": f"{{{uuidlib.uuid5(uuidlib.NAMESPACE_OID, key)}}}",
            "key": key,
            "secured": value is None,
        }
        if value is not None:
            item["value"] = value
        out.append(item)
    return out
