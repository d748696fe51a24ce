"""Slack incoming webhooks: ``blocks`` with a ``text`` fallback.

Slack answers 200 with the body ``ok``; errors come back as a short body string
(``invalid_blocks``, ``no_text``, ``channel_not_found``, ...) with a 4xx status, and 429
with ``Retry-After`` when rate limited (retried by :mod:`pipekit.clients.webhook`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pipekit.clients.webhook import Answer, Policy, post_json, url_problem
from pipekit.core.errors import BadInput, ExternalError
from pipekit.core.masking import mask, mask_url

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75

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


def check_url(url: str, source: str) -> None:
    problem = url_problem(url)
    if problem:
        raise BadInput(f"{source} {problem}")


def send(url: str, body: bytes, *, policy: Policy | None = None, env: Mapping[str, str] | None = None,
         on_retry: Callable[[str], None] | None = None) -> Answer:
    """POST the encoded payload; Slack's 200 ``ok`` (any 2xx) is success, else ExternalError."""
    answer = post_json(url, body, policy=policy, label="Slack", env=env, on_retry=on_retry)
    if not answer.ok:
        error = " ".join(answer.body.split())[:200] or "(empty body)"
        raise ExternalError(
            f"Slack {mask_url(url)}: HTTP {answer.status}: {mask(error)}",
            hint=HINTS.get(error, "see https://api.slack.com/messaging/webhooks#handling_errors"),
        )
    return answer
