"""Slack incoming webhooks: ``blocks`` with a ``text`` fallback.

Slack answers 200 with the body ``ok``; errors come back as a short body string
(``invalid_blocks``, ``no_text``, ``channel_not_found``, ...) with a 4xx status, and 429
with ``Retry-After`` when rate limited (retried by :mod:`pipekit.clients.webhook`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipekit.channels.interface import Channel

if TYPE_CHECKING:
    from pipekit.cards.model import Notification
    from pipekit.clients.webhook import Answer

HINTS = {
    "invalid_blocks": "pipekit built a message Slack refused: please report it with --debug output",
    "invalid_payload": "pipekit built a message Slack refused: please report it with --debug output",
    "no_text": "the message had no text fallback",
    "channel_not_found": "the channel of this webhook no longer exists",
    "channel_is_archived": "the channel of this webhook is archived",
    "no_service": "the webhook was removed or its URL is wrong: create a new incoming webhook",
    "action_prohibited": "a workspace admin restricted this webhook",
    "posting_to_general_channel_denied": "only admins may post to this channel",
}


class Slack(Channel):
    name = "slack"
    label = "Slack"

    def message(self, n: Notification) -> tuple[dict[str, Any], bytes]:
        from pipekit.cards import slack

        return slack.message(n)

    def refusal(self, answer: Answer) -> tuple[str, str]:
        error = " ".join(answer.body.split())[:200] or "(empty body)"
        return error, HINTS.get(error, "see https://api.slack.com/messaging/webhooks#handling_errors")


CHANNEL = Slack()
