"""Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received").

The message envelope carries one Adaptive Card. Any 2xx is success: a Workflows trigger
answers 202 with an empty body. Office 365 connector URLs (``*.webhook.office.com``,
``outlook.office.com/webhook``) were retired by Microsoft and are refused with a clear message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from pipekit.clients.webhook import Answer, Policy, post_json, url_problem
from pipekit.core.errors import BadInput, ExternalError
from pipekit.core.masking import mask, mask_url

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_MESSAGE_BYTES = 28 * 1024  # Teams' limit for a whole message, envelope included


def envelope(card: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": card}]}


def is_retired_connector(url: str) -> bool:
    """True for an Office 365 / Microsoft 365 connector ("Incoming Webhook") URL."""
    split = urlsplit(url)
    host = (split.hostname or "").lower()
    path = split.path.lower()
    if host.endswith(".webhook.office.com") or host == "webhook.office.com":
        return True
    return host in ("outlook.office.com", "outlook.office365.com") and path.startswith("/webhook")


def check_url(url: str, source: str) -> None:
    """Refuse URLs that cannot work, naming where the URL came from (never the URL's secret)."""
    if is_retired_connector(url):
        raise BadInput(
            f"{source} is an Office 365 connector URL ({urlsplit(url).hostname}): Microsoft retired these "
            "connectors in 2026 and they no longer deliver",
            hint="in Teams, add the Workflows template 'Post to a channel when a webhook request is received' "
            "and put its URL in the variable instead",
        )
    problem = url_problem(url)
    if problem:
        raise BadInput(f"{source} {problem}")


def send(url: str, body: bytes, *, policy: Policy | None = None, env: Mapping[str, str] | None = None,
         on_retry: Callable[[str], None] | None = None) -> Answer:
    """POST the encoded envelope; return the answer on 2xx, raise ExternalError otherwise."""
    answer = post_json(url, body, policy=policy, label="Teams", env=env, on_retry=on_retry)
    if not answer.ok:
        detail = " ".join(answer.body.split())[:300]
        raise ExternalError(
            f"Teams {mask_url(url)}: HTTP {answer.status}" + (f": {mask(detail)}" if detail else ""),
            hint="a 400 usually means the card was refused; 401/403/404 that the workflow was deleted or "
            "its URL changed",
        )
    return answer
