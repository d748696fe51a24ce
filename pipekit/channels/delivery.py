"""Deliver one notification to its channels, once per run, stage, event and channel.

Gathers the event, the pipeline context and the run record into one notification, renders
it per channel (Adaptive Card 1.4 for Teams Workflows, blocks for Slack), and posts it once
per run, stage, event and channel: the run record (section ``notify``, output ``sent``)
remembers what was delivered, so a retried step says "already sent" instead of posting twice.
``pipekit notify`` is this module's command; post-sync-test sends its result card with it too.

An undeliverable notification is reported and does not fail the pipeline, unless ``strict``
(exit 3). Start-up stays lean: the card builders and the HTTP client load only in :func:`send`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pipekit.core.errors import BadInput, ExternalError
from pipekit.core.options import option, ref
from pipekit.core.recorded import Recorded, record

if TYPE_CHECKING:
    from pipekit.cards.model import Notification
    from pipekit.channels.interface import Channel as ChannelType
    from pipekit.core.runrecord import RunRecord
    from pipekit.core.step import StepContext

EVENTS = ("started", "succeeded", "failed", "deployed", "promoted", "blocked", "summary")
AUTO = "auto"
TEAMS_ENV = "PIPEKIT_TEAMS_WEBHOOK_URL"
SLACK_ENV = "PIPEKIT_SLACK_WEBHOOK_URL"


@dataclass
class Channel:
    name: str
    type: str  # teams | slack
    webhook_env: str
    events: list[str] | None = None
    stages: list[str] | None = None
    optional: bool = False
    where: str = ""  # pipekit.yaml:LINE of its entry, for messages


def _channels(items: list[dict[str, Any]] | None) -> list[Channel] | None:
    return [Channel(**c) for c in items or ()] or None


@dataclass
class NotifyOptions:
    event: str = option(
        flag="--event",
        metavar="EVENT",
        required=f"one of {', '.join(EVENTS)} or {AUTO}",
        help=f"One of {', '.join(EVENTS)}; or {AUTO} (failed when BITBUCKET_EXIT_CODE is non-zero, "
        "else succeeded).",
    )
    stage: str | None = option(
        flag="--stage", help="Stage name shown on the card and part of the once-only key [default: pipeline]."
    )
    message: str | None = option(flag="--message", help="Extra text for the card (shown as plain text).")
    environment: str | None = option(
        flag="--environment",
        env=("PIPEKIT_ENV", "PIPEKIT_ENVIRONMENT"),
        help="Environment [default: BITBUCKET_DEPLOYMENT_ENVIRONMENT or the run record].",
    )
    strict: bool = option(
        False,
        flag="--strict",
        env="PIPEKIT_NOTIFY_STRICT",
        config="notify.strict",
        help="Fail (exit 3) when a notification cannot be delivered.",
    )
    timeout: float = option(
        10.0,
        flag="--timeout",
        env="PIPEKIT_NOTIFY_TIMEOUT",
        config="notify.timeout",
        above=0,
        help="Read timeout of one POST in seconds.",
    )
    attempts: int = option(
        4,
        env="PIPEKIT_NOTIFY_ATTEMPTS",
        config="notify.attempts",
        minimum=1,
        maximum=10,
        help="Tries per channel.",
    )
    total_timeout: float = option(
        60.0,
        env="PIPEKIT_NOTIFY_TOTAL_TIMEOUT",
        config="notify.total_timeout",
        above=0,
        help="Bound on all tries of one channel, seconds.",
    )
    channels: list[Channel] | None = option(  # None: the two standard variables
        config="notify.channels",
        kind=list[dict[str, Any]],
        convert=_channels,
        schema={"type": "array", "items": ref("notify_channel")},
        help=f"Teams/Slack channels; without it {TEAMS_ENV} / {SLACK_ENV} are used.",
    )
    # The webhook URLs are read from the variable a channel names where they are sent; these two
    # are the standard ones (declared for --help and the docs).
    teams_webhook: str | None = option(
        env=TEAMS_ENV, secret=True, help="Teams Workflows webhook URL (without notify.channels)."
    )
    slack_webhook: str | None = option(
        env=SLACK_ENV, secret=True, help="Slack incoming webhook URL (without notify.channels)."
    )
    push_gateway: str | None = option(
        flag="--push-gateway",
        env="PIPEKIT_PUSHGATEWAY_URL",
        metavar="URL",
        help="After a deployment, push its time and tag to this Pushgateway "
        "(job pipekit_deploy) for the after-deploy alerts.",
    )


DeliveryStatus = Literal["sent", "already-sent", "failed", "skipped"]


@dataclass
class Delivery:
    channel: str
    type: str
    status: DeliveryStatus
    http_status: int | None = None
    attempts: int = 0
    bytes: int = 0
    error: str | None = None


def _last(r: NotifyResult) -> dict[str, Any] | None:
    """What the record keeps of the last notification (``outputs.last``)."""
    return (
        {
            "key": r.key,
            "event": r.event,
            "stage": r.stage,
            "deliveries": {d.channel: d.status for d in r.deliveries},
        }
        if r.key
        else None
    )


def _deliveries(last: Any) -> list[Delivery]:
    found = last.get("deliveries") if isinstance(last, dict) else None
    return [Delivery(str(ch), "", st) for ch, st in found.items()] if isinstance(found, dict) else []


@dataclass
class NotifyResult(Recorded):
    SECTION: ClassVar[str] = "notify"

    event: str = ""
    stage: str = ""
    key: str = ""
    title: str = ""
    deliveries: list[Delivery] = field(
        default_factory=list, metadata=record(key="last", value=_last, read=_deliveries)
    )
    payloads: dict[str, Any] = field(default_factory=dict)  # channel -> what was (or would be) posted
    sent: list[str] | None = field(
        default=None, metadata=record(state=True)
    )  # once-only keys (run, stage, event, channel): never cleared
    deploy_marker: str | None = None  # the Pushgateway group the deploy marker went to

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.status == "failed"]


def resolve_event(event: str, exit_code: int | None) -> str:
    """The event to send; ``auto`` is ``failed`` in an after-script of a failed step, else ``succeeded``."""
    name = (event or "").strip().lower()
    if name == AUTO:
        return "failed" if exit_code not in (None, 0) else "succeeded"
    if name not in EVENTS:
        raise BadInput(f"unknown event {event!r}: use one of {', '.join(EVENTS)} or {AUTO}")
    return name


def channels(options: NotifyOptions, ctx: StepContext) -> list[Channel]:
    """Channels from ``notify.channels`` in pipekit.yaml, else from the two standard variables."""
    if options.channels:
        return list(options.channels)
    found = [Channel("teams", "teams", TEAMS_ENV), Channel("slack", "slack", SLACK_ENV)]
    found = [c for c in found if ctx.env.get(c.webhook_env, "").strip()]
    if not found:
        raise BadInput(
            f"no webhook configured: set {TEAMS_ENV} (Teams Workflows) or {SLACK_ENV} (Slack), "
            "or list channels under notify.channels in pipekit.yaml"
        )
    return found


def _channel(kind: str) -> ChannelType:
    """The channel type's module (:mod:`pipekit.channels`), imported only when that type is used."""
    from pipekit.channels import registry

    return registry.get(kind)


def _webhook(ctx: StepContext, ch: Channel) -> str | None:
    from pipekit.core import masking

    url = ctx.env.get(ch.webhook_env, "").strip()  # a secret: read where it is used, never kept in options
    if not url:
        if ch.optional:
            return None
        where = f" ({ch.where}, channel {ch.name!r})" if ch.where else ""
        raise BadInput(f"{ch.webhook_env} is not set{where}: put the channel's webhook URL in that variable")
    masking.add_secret(url)  # also when the variable's name does not look secret
    source = f"{ch.webhook_env} (channel {ch.name!r})"
    _channel(ch.type).check_url(url, source)
    return url


def service_name(ctx: StepContext) -> str:
    full = ctx.pipeline.repo_full_name
    return ctx.service or (full.rsplit("/", 1)[-1] if full else None) or "service"


def build_notification(options: NotifyOptions, ctx: StepContext, event: str) -> Notification:
    from pipekit.cards import model

    return model.build(
        event,
        pipeline=ctx.pipeline,
        record=ctx.record,
        service=service_name(ctx),
        stage=options.stage,
        environment=options.environment,
        message=options.message,
    )


def render(kind: str, n: Notification) -> tuple[dict[str, Any], bytes]:
    """The payload for a channel type and its bytes, secrets masked."""
    import json

    from pipekit.core.masking import mask_tree

    payload, _data = _channel(kind).message(n)
    # A second line of defence (the card builders mask each text before escaping it): every
    # string of the payload is masked again, and the bytes posted (and printed by --debug and
    # --json) are that masked payload's serialisation.
    masked = mask_tree(payload)
    return masked, json.dumps(masked, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _sent(record: RunRecord) -> list[str]:
    """The keys already sent, as the record says now (read under its lock by the callers)."""
    with record.locked():
        found = NotifyResult.read(record).sent or []
    return [str(k) for k in found] if isinstance(found, list) else []


@contextmanager
def _key_lock(record_path: Path, key: str) -> Iterator[None]:
    """An exclusive lock for one notification key: one byte of one file beside the run record
    (``run.json.notify.lock``), at an offset the key's hash picks. One file, however many
    notifications (one file per key filled the artifacts' folder); other keys go on meanwhile."""
    import fcntl
    import hashlib

    offset = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big")
    lock = record_path.with_name(f"{record_path.name}.notify.lock")
    with _IN_PROCESS:  # POSIX record locks exclude other processes only: threads take turns here
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX, 1, offset)  # released when fd closes
            yield
        finally:
            os.close(fd)


_IN_PROCESS = threading.Lock()


def send(options: NotifyOptions, ctx: StepContext) -> NotifyResult:
    """Send the notification for ``options.event`` to every matching channel, once per run."""
    from pipekit.clients.webhook import Policy

    event = resolve_event(options.event, ctx.pipeline.exit_code)
    targets: list[tuple[Channel, str | None]] = []
    for ch in channels(options, ctx):  # check every URL before sending anything
        targets.append((ch, _webhook(ctx, ch)))
    n = build_notification(options, ctx, event)
    result = NotifyResult(event=event, stage=n.stage, key=n.key, title=f"{n.icon} {n.title}")
    policy = Policy(
        read_timeout=options.timeout,
        connect_timeout=min(5.0, options.timeout),
        attempts=options.attempts,
        total_timeout=options.total_timeout,
    )
    record = ctx.record
    with record.locked():  # fails here, before anything is posted, if the record cannot be written
        if not isinstance(NotifyResult.read(record).sent, list):
            record.update_step(NotifyResult.SECTION, outputs=NotifyResult(sent=[]).to_outputs())
    with record.recording(NotifyResult.SECTION, keep=NotifyResult.keep()) as outputs:
        for ch, url in targets:
            key = f"{n.key}@{ch.name}"
            if (ch.events and event not in ch.events) or (ch.stages and n.stage not in ch.stages):
                result.deliveries.append(
                    Delivery(ch.name, ch.type, "skipped", error="filtered out by config")
                )
                continue
            if url is None:
                ctx.console.warn(f"{ch.webhook_env} is not set: channel {ch.name!r} (optional) skipped")
                result.deliveries.append(
                    Delivery(ch.name, ch.type, "skipped", error=f"{ch.webhook_env} not set")
                )
                continue
            # One notification per key across processes: the key's own lock is held from the
            # check over the post to the mark (two notify runs for the same stage at once post
            # once); the record's lock only around each read and write (other stages go on).
            with _key_lock(record.path, key):
                if key in _sent(record):
                    ctx.console.info(
                        f"already sent: {event} for stage {n.stage} to {ch.name} "
                        f"(run {n.run_id}); not posting again"
                    )
                    result.deliveries.append(Delivery(ch.name, ch.type, "already-sent"))
                    continue
                payload, data = render(ch.type, n)
                result.payloads[ch.name] = payload
                ctx.console.debug(f"{ch.name}: POST {len(data)} bytes: {data.decode('utf-8')}")
                try:
                    answer = _channel(ch.type).send(
                        url, data, policy=policy, env=ctx.env, on_retry=ctx.console.warn
                    )
                except ExternalError as exc:
                    ctx.console.warn(f"could not deliver to {ch.name}: {exc}")
                    result.deliveries.append(
                        Delivery(ch.name, ch.type, "failed", bytes=len(data), error=str(exc))
                    )
                    continue
                with record.locked():  # remembered at once, merged with marks other processes made meanwhile
                    record.update_step(
                        NotifyResult.SECTION, outputs=NotifyResult(sent=[*_sent(record), key]).to_outputs()
                    )
            result.deliveries.append(
                Delivery(ch.name, ch.type, "sent", answer.status, answer.attempts, len(data))
            )
            ctx.console.success(f"sent to {ch.name} ({ch.type}, HTTP {answer.status}): {result.title}")
        if options.push_gateway and event in ("succeeded", "deployed", "promoted"):
            result.deploy_marker = mark_deploy(options, ctx, n.environment)
        # `sent` is not written here: it was merged under the lock as each post succeeded.
        result.write_to(outputs)
        if result.failed:
            names = ", ".join(d.channel for d in result.failed)
            if options.strict:
                raise ExternalError(f"notification not delivered to {names}", result=result)
            ctx.console.warn(
                f"notification not delivered to {names}; the pipeline goes on (use --strict to fail it)"
            )
    return result


def mark_deploy(options: NotifyOptions, ctx: StepContext, environment: str | None) -> str | None:
    """Push the deploy marker of the deployment this run made (none made: nothing pushed)."""
    import time

    from pipekit.alerting import deploymarker

    deploy = deploymarker.from_record(ctx.record, service_name(ctx), environment)
    if deploy is None:
        return None
    try:
        where = deploymarker.push(str(options.push_gateway), deploy, time.time(), timeout=options.timeout)
    except ExternalError as exc:
        if options.strict:
            raise
        ctx.console.warn(f"deploy marker not pushed: {exc}; the pipeline goes on (use --strict to fail it)")
        return None
    ctx.console.success(f"deploy marker pushed: {deploy.service} {deploy.tag} in {deploy.environment}")
    return where
