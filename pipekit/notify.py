"""``pipekit notify``: tell Teams and Slack what the pipeline did.

One notification per run, stage, event and channel (:mod:`pipekit.channels.delivery`: the card
per channel, the once-only marks in the run record, the retries). An undeliverable notification
is reported and does not fail the pipeline, unless ``--strict`` (exit 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pipekit.channels.delivery import (
    AUTO,
    EVENTS,
    SLACK_ENV,
    TEAMS_ENV,
    Channel,
    Delivery,
    NotifyOptions,
    NotifyResult,
    build_notification,
    channels,
    render,
    resolve_event,
    service_name,
)
from pipekit.channels.delivery import send as run
from pipekit.core.options import resolve
from pipekit.core.step import StepContext, step_command

__all__ = [
    "AUTO",
    "EVENTS",
    "SLACK_ENV",
    "TEAMS_ENV",
    "Channel",
    "Delivery",
    "NotifyOptions",
    "NotifyResult",
    "build_notification",
    "channels",
    "main",
    "options_from",
    "render",
    "resolve_event",
    "run",
    "service_name",
]


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> NotifyOptions:
    options = resolve(NotifyOptions, ctx, flags).options
    found = [
        replace(c, where=ctx.config.where("notify", "channels", i))
        for i, c in enumerate(options.channels or ())
    ]
    return replace(options, channels=found or None)


@step_command(
    "notify",
    NotifyOptions,
    help="Send a pipeline notification (Teams Adaptive Card, Slack blocks), once per run, stage and event.",
)
def main(ctx: StepContext, flags: dict[str, Any]) -> NotifyResult:
    return run(options_from(ctx, flags), ctx)


if __name__ == "__main__":
    main()
