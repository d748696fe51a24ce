"""Argo CD: the server the config names answers ``/api/version`` and accepts the token; CLI/server skew."""

from __future__ import annotations

import re

from pipekit.diagnostics import tools
from pipekit.diagnostics.check import Check, CheckOutcome, DoctorPlan, fail, ok, warn
from pipekit.diagnostics.http import get

KIND = "argocd"


def checks(plan: DoctorPlan) -> list[Check]:
    server = plan.setting("argocd.server", "ARGOCD_SERVER")
    if not server:
        return []
    return [Check("endpoint:argocd", KIND, lambda: check(plan, str(server)))]


def base_url(plan: DoctorPlan, server: str) -> str:
    if "://" not in server:
        plaintext = bool(plan.setting("argocd.plaintext", "PIPEKIT_ARGOCD_PLAINTEXT"))
        server = ("http://" if plaintext else "https://") + server
    root = str(plan.setting("argocd.root_path", "PIPEKIT_ARGOCD_ROOT_PATH") or "").strip("/")
    return server.rstrip("/") + (f"/{root}" if root else "")


def _minor(version: str) -> tuple[int, int] | None:
    m = re.match(r"v?(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else None


def check(plan: DoctorPlan, server: str) -> CheckOutcome:
    token = plan.env.get("ARGOCD_AUTH_TOKEN")
    if not token and not (plan.env.get("ARGOCD_USERNAME") and plan.env.get("ARGOCD_PASSWORD")):
        return fail("Argo CD is configured but no credentials are set",
                    "set ARGOCD_AUTH_TOKEN (or ARGOCD_USERNAME and ARGOCD_PASSWORD) as secured variables")
    url = base_url(plan, server)
    verify = not plan.setting("argocd.insecure", "PIPEKIT_ARGOCD_INSECURE")
    answer = get(f"{url}/api/version", timeout=plan.timeout, verify=verify)
    if answer.error:
        return fail(f"Argo CD API did not answer: {answer.error}", "check ARGOCD_SERVER / argocd.server and the network")
    if answer.status != 200 or not isinstance(answer.json, dict):
        return fail(f"Argo CD /api/version answered HTTP {answer.status}", "check the server address and root_path")
    server_version = str(answer.json.get("Version", ""))
    if token:
        info = get(f"{url}/api/v1/session/userinfo", timeout=plan.timeout, verify=verify, token=token)
        if info.status in (401, 403) or (isinstance(info.json, dict) and info.json.get("loggedIn") is False):
            return fail(f"Argo CD {server_version} rejects ARGOCD_AUTH_TOKEN",
                        "create a new token for the pipeline's account (argocd account generate-token)")
    cli = _cli_version()
    if cli and _minor(cli) and _minor(server_version):
        (cmaj, cmin), (smaj, smin) = _minor(cli), _minor(server_version)  # type: ignore[misc]
        if cmaj != smaj or abs(cmin - smin) > 1:
            return warn(f"Argo CD server {server_version}, CLI {cli}: versions skewed",
                        "use an argocd CLI within one minor version of the server", server=server_version, cli=cli)
    return ok(f"Argo CD {server_version} answered" + (f" (CLI {cli})" if cli else ""),
              server=server_version, cli=cli)


def _cli_version() -> str | None:
    try:
        return tools.read(tools.PROBES["argocd"], timeout=5).version
    except Exception:  # no CLI here: no skew to report
        return None
