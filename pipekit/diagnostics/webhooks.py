"""Webhooks: each channel's variable is set, and its host accepts a connection (nothing is posted)."""

from __future__ import annotations

import functools
import socket
from urllib.parse import urlsplit

from pipekit.diagnostics.check import Check, CheckOutcome, DoctorPlan, fail, ok, warn

KIND = "webhooks"


def checks(plan: DoctorPlan) -> list[Check]:
    from pipekit.channels.delivery import SLACK_ENV, TEAMS_ENV

    channels = plan.config_value("notify.channels") or []
    named = [(str(c.get("webhook_env")), bool(c.get("optional"))) for c in channels if isinstance(c, dict)]
    if not named:
        named = [(v, False) for v in (TEAMS_ENV, SLACK_ENV) if plan.env.get(v)]
    return [
        Check(f"webhook:{var}", KIND, functools.partial(check, plan, var, optional))
        for var, optional in named
    ]


def check(plan: DoctorPlan, var: str, optional: bool) -> CheckOutcome:
    url = plan.env.get(var, "").strip()
    if not url:
        if optional:
            return warn(
                f"{var} is not set (optional channel: skipped when notifying)", f"set {var} to enable it"
            )
        return fail(f"{var} is not set", f"add {var} as a secured repository or deployment variable")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return fail(f"{var} is not an http(s) URL", f"set {var} to the webhook URL the channel gave you")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=plan.timeout):
            pass
    except OSError as exc:
        return fail(
            f"{var}'s host does not accept connections on port {port} ({type(exc).__name__})",
            "check the network / proxy of the pipeline",
        )
    return ok(f"{var} is set; its host accepts connections on port {port} (nothing posted)")
