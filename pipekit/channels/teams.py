"""Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received").

The message envelope carries one Adaptive Card. Any 2xx is success: a Workflows trigger
answers 202 with an empty body. Office 365 connector URLs (``*.webhook.office.com``,
``outlook.office.com/webhook``) were retired by Microsoft and are refused with a clear message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pipekit.channels.interface import Channel
from pipekit.core.errors import BadInput

if TYPE_CHECKING:
    from pipekit.cards.model import Notification
    from pipekit.clients.webhook import Answer


def is_retired_connector(url: str) -> bool:
    """True for an Office 365 / Microsoft 365 connector ("Incoming Webhook") URL."""
    split = urlsplit(url)
    host = (split.hostname or "").lower()
    path = split.path.lower()
    if host.endswith(".webhook.office.com") or host == "webhook.office.com":
        return True
    return host in ("outlook.office.com", "outlook.office365.com") and path.startswith("/webhook")


class Teams(Channel):
    name = "teams"
    label = "Teams"

    def check_url(self, url: str, source: str) -> None:
        if is_retired_connector(url):
            raise BadInput(
                f"{source} is an Office 365 connector URL ({urlsplit(url).hostname}): Microsoft retired "
                "these connectors in 2026 and they no longer deliver",
                hint=(
                    "in Teams, add the Workflows template "
                    "'Post to a channel when a webhook request is received' "
                    "and put its URL in the variable instead"
                ),
            )
        super().check_url(url, source)

    def message(self, n: Notification) -> tuple[dict[str, Any], bytes]:
        from pipekit.cards import teams

        return teams.message(n)

    def refusal(self, answer: Answer) -> tuple[str, str]:
        return (
            " ".join(answer.body.split())[:300],
            "a 400 usually means the card was refused; 401/403/404 that the workflow was deleted or its URL "
            "changed",
        )


CHANNEL = Teams()
