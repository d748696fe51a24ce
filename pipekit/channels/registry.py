"""The channel types by name. A new channel is one module beside this one and one line here.

Modules are imported only when their type is used (``pipekit notify`` start-up stays lean).
"""

from __future__ import annotations

import importlib

from pipekit.channels.interface import Channel
from pipekit.core.errors import BadInput

CHANNELS: dict[str, str] = {  # type -> module holding CHANNEL
    "teams": "pipekit.channels.teams",
    "slack": "pipekit.channels.slack",
}


def get(kind: str) -> Channel:
    module = CHANNELS.get(kind)
    if module is None:
        raise BadInput(f"channel type {kind!r}: use {' or '.join(CHANNELS)}")
    channel: Channel = importlib.import_module(module).CHANNEL
    return channel
