"""The channel interface: what differs per chat system is the URL check, the payload and how a refusal reads.

Sending is one path for every channel (:meth:`Channel.send`): the POST and its retries are the
webhook client's (:func:`pipekit.clients.webhook.post_json`); any 2xx is delivered, anything else
an :class:`ExternalError` naming the channel, the masked URL, the status and the channel's hint.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pipekit.core.errors import BadInput, ExternalError
from pipekit.core.masking import mask, mask_url

if TYPE_CHECKING:
    from pipekit.cards.model import Notification
    from pipekit.clients.webhook import Answer, Policy


class Channel(ABC):
    name: str  # the channel type in pipekit.yaml (notify.channels[].type)
    label: str  # how messages name it

    def check_url(self, url: str, source: str) -> None:
        """Refuse a URL that cannot work, naming where it came from (never the URL's secret)."""
        from pipekit.clients.webhook import url_problem

        problem = url_problem(url)
        if problem:
            raise BadInput(f"{source} {problem}")

    @abstractmethod
    def message(self, n: Notification) -> tuple[dict[str, Any], bytes]:
        """The payload for this channel and its encoded bytes."""

    @abstractmethod
    def refusal(self, answer: Answer) -> tuple[str, str]:
        """(what the answer said, what to do) for a non-2xx answer."""

    def send(
        self,
        url: str,
        body: bytes,
        *,
        policy: Policy | None = None,
        env: Mapping[str, str] | None = None,
        on_retry: Callable[[str], None] | None = None,
    ) -> Answer:
        """POST the encoded payload; the answer on 2xx, else :class:`ExternalError`."""
        from pipekit.clients.webhook import post_json

        answer = post_json(url, body, policy=policy, label=self.label, env=env, on_retry=on_retry)
        if not answer.ok:
            said, hint = self.refusal(answer)
            raise ExternalError(
                f"{self.label} {mask_url(url)}: HTTP {answer.status}" + (f": {mask(said)}" if said else ""),
                hint=hint,
            )
        return answer
