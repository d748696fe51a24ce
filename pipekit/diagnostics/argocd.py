"""Argo CD: the server the config names answers ``/api/version`` and accepts the token; CLI/server skew."""

from __future__ import annotations

import re

from pipekit.argocd.settings import ServerOptions, with_argocd_opts
from pipekit.core.options import resolve_from
from pipekit.diagnostics import tools
from pipekit.diagnostics.check import Check, CheckOutcome, DoctorPlan, fail, ok, warn
from pipekit.diagnostics.http import get

KIND = "argocd"


def checks(plan: DoctorPlan) -> list[Check]:
    argocd = with_argocd_opts(resolve_from(ServerOptions, {}, plan.env, plan.config))
    if not argocd.server:
        return []
    return [Check("endpoint:argocd", KIND, lambda: check(plan, argocd))]


def base_url(argocd: ServerOptions) -> str:
    server = argocd.server
    if "://" not in server:
        server = ("http://" if argocd.plaintext else "https://") + server
    root = argocd.root_path.strip("/")
    return server.rstrip("/") + (f"/{root}" if root else "")


def _minor(version: str) -> tuple[int, int] | None:
    m = re.match(r"v?(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else None


def check(plan: DoctorPlan, argocd: ServerOptions) -> CheckOutcome:
    token = argocd.token
    if not token and not (argocd.username and argocd.password):
        return fail(
            "Argo CD is configured but no credentials are set",
            "set ARGOCD_AUTH_TOKEN (or ARGOCD_USERNAME and ARGOCD_PASSWORD) as secured variables",
        )
    url = base_url(argocd)
    verify = not argocd.insecure
    answer = get(f"{url}/api/version", timeout=plan.timeout, verify=verify)
    if answer.error:
        return fail(
            f"Argo CD API did not answer: {answer.error}",
            "check ARGOCD_SERVER / argocd.server and the network",
        )
    if answer.status != 200 or not isinstance(answer.json, dict):
        return fail(
            f"Argo CD /api/version answered HTTP {answer.status}", "check the server address and root_path"
        )
    server_version = str(answer.json.get("Version", ""))
    if token:
        info = get(f"{url}/api/v1/session/userinfo", timeout=plan.timeout, verify=verify, token=token)
        if info.status in (401, 403) or (isinstance(info.json, dict) and info.json.get("loggedIn") is False):
            return fail(
                f"Argo CD {server_version} rejects ARGOCD_AUTH_TOKEN",
                "create a new token for the pipeline's account (argocd account generate-token)",
            )
    cli = _cli_version()
    if cli and _minor(cli) and _minor(server_version):
        (cmaj, cmin), (smaj, smin) = _minor(cli), _minor(server_version)  # type: ignore[misc]
        if cmaj != smaj or abs(cmin - smin) > 1:
            return warn(
                f"Argo CD server {server_version}, CLI {cli}: versions skewed",
                "use an argocd CLI within one minor version of the server",
                server=server_version,
                cli=cli,
            )
    return ok(
        f"Argo CD {server_version} answered" + (f" (CLI {cli})" if cli else ""),
        server=server_version,
        cli=cli,
    )


def _cli_version() -> str | None:
    try:
        return tools.read(tools.PROBES["argocd"], timeout=5).version
    except Exception:  # no CLI here: no skew to report
        return None
