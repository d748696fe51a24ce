"""The channel types by name. A new channel is one module beside this one and one line here.

Modules are imported only when their type is used (``pipekit notify`` start-up stays lean).
"""

from __future__ import annotations

from pipekit.channels.interface import Channel
from pipekit.core.errors import BadInput
from pipekit.core.registry import Registry

CHANNELS: Registry[Channel] = Registry(
    {
        "teams": "pipekit.channels.teams:CHANNEL",
        "slack": "pipekit.channels.slack:CHANNEL",
    }
)


def get(kind: str) -> Channel:
    channel = CHANNELS.find(kind)
    if channel is None:
        raise BadInput(f"channel type {kind!r}: use {' or '.join(CHANNELS)}")
    return channel
