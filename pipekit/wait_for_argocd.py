"""``pipekit wait-for-argocd``: wait until Argo CD has synced the right revision, healthy, hooks passed.

Story: gather the apps and the expected GitOps revision (default: the run record), ask Argo CD
to refresh (and optionally sync), then watch the stream and re-read each app until every app
is judged (:mod:`pipekit.argocd.state`) succeeded, one fails, or the time is up.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from pipekit.argocd.settings import AppsOptions, with_argocd_opts
from pipekit.argocd.state import DEGRADED, FAILED, SUCCEEDED, AppState, Verdict, judge, short
from pipekit.core.errors import BadInput, CheckFailed, ExternalError, PipekitError, TimedOut
from pipekit.core.options import option, ref, resolve
from pipekit.core.outputs import AppOutcome, PromoteResult, UpdateTagResult, WaitResult
from pipekit.core.step import StepContext, step_command

__all__ = ["AppOutcome", "WaitOptions", "WaitResult", "main", "options_from", "run"]


@dataclass
class WaitOptions(AppsOptions):
    apps: list[str] = option(
        default_factory=list,
        flag="--app",
        env="PIPEKIT_ARGOCD_APP",
        help="Argo CD application name (repeat for several; the variable: comma- or space-separated).",
    )
    environment: str | None = option(
        flag="--env",
        env=("PIPEKIT_ENV", "PIPEKIT_ENVIRONMENT"),
        help="Take the app names from argocd.apps.ENV in pipekit.yaml.",
    )
    revision: str = option(
        "",
        flag="--revision",
        env="PIPEKIT_ARGOCD_REVISION",
        help="GitOps revision to wait for [default: run record update_tag/promote].",
    )
    timeout: float = option(
        600.0,
        flag="--timeout",
        env="PIPEKIT_ARGOCD_TIMEOUT",
        config="argocd.timeout",
        above=0,
        help="Seconds to wait in all.",
    )
    refresh: Literal["normal", "hard", "none"] | None = option(  # "none" is None once resolved
        "normal",
        flag="--refresh",
        env="PIPEKIT_ARGOCD_REFRESH",
        config="argocd.refresh",
        help="Refresh asked for first.",
    )
    sync: bool = option(
        False,
        flag="--sync",
        env="PIPEKIT_ARGOCD_SYNC",
        config="argocd.sync",
        help="Trigger a sync at the revision (apps without auto-sync).",
    )
    grace: float = option(
        60.0,
        flag="--grace",
        env="PIPEKIT_ARGOCD_GRACE",
        config="argocd.grace",
        minimum=0,
        help="Seconds health may stay Degraded before failing.",
    )
    poll_interval: float = option(
        3.0,
        flag="--poll-interval",
        env="PIPEKIT_ARGOCD_POLL_INTERVAL",
        config="argocd.poll_interval",
        above=0,
        help="Seconds between re-reads of each app.",
    )
    no_stream: bool | None = option(
        flag="--no-stream", env="PIPEKIT_ARGOCD_NO_STREAM", help="Only re-read; do not watch the stream."
    )
    stream: bool = option(
        True, config="argocd.stream", help="Watch the application stream as well as re-reading."
    )
    unreachable_after: float = option(
        60.0,
        env="PIPEKIT_ARGOCD_UNREACHABLE_AFTER",
        config="argocd.unreachable_after",
        above=0,
        help="Seconds without an answer before exit 3.",
    )
    apps_by_env: dict[str, Any] = option(
        default_factory=dict,
        config="argocd.apps",
        schema={"additionalProperties": ref("argocd_app_names")},
        help="environment -> the app name(s) to wait for, e.g. {dev: orders-dev}.",
    )
    stream_idle_timeout: float = 60.0
    backoff: float = 0.5  # first retry delay of a failed request (grows exponentially, at most 5 s)


class _Wait:
    """The state of one wait: last state and verdict per app, degraded clocks, contact times."""

    def __init__(self, options: WaitOptions, ctx: StepContext) -> None:
        from pipekit.argocd.view import Progress

        self.o = options
        self.ctx = ctx
        self.started = time.monotonic()
        self.deadline = self.started + options.timeout
        self.apps: dict[str, dict[str, Any]] = {}
        self.states: dict[str, AppState] = {}
        self.verdicts: dict[str, Verdict] = {}
        self.degraded_since: dict[str, float] = {}
        self.last_ok = time.monotonic()
        self.last_error: BaseException | None = None
        self.progress = Progress(ctx.console, options.apps, options.revision)

    def see(self, name: str, app: dict[str, Any]) -> None:
        from pipekit.clients.argocd_watch import newer

        if not newer(app, self.apps.get(name)):
            return
        self.apps[name] = app
        state = AppState.from_app(app)
        verdict = judge(state, self.o.revision)
        self.states[name], self.verdicts[name] = state, verdict
        if verdict.status == DEGRADED:
            self.degraded_since.setdefault(name, time.monotonic())
        else:
            self.degraded_since.pop(name, None)
        self.progress.update(name, state, verdict)

    def result(self) -> WaitResult:
        outcomes = []
        for name in self.o.apps:
            state, verdict = self.states.get(name), self.verdicts.get(name)
            out = AppOutcome(name=name)
            if state is not None and verdict is not None:
                summary = state.summary()
                out = AppOutcome(
                    name=name,
                    sync=state.sync,
                    health=state.health,
                    revision=state.sync_revision,
                    phase=state.phase,
                    hooks=summary["hooks"],
                    verdict=verdict.status,
                    missing=list(verdict.missing),
                    message=verdict.reason,
                )
            outcomes.append(out)
        return WaitResult(self.o.revision, outcomes, round(time.monotonic() - self.started, 3), self.o.server)

    def check(self) -> bool:
        """Raise on a failure; True when every app succeeded."""
        for name in self.o.apps:
            verdict = self.verdicts.get(name)
            if verdict is not None and verdict.status == FAILED:
                raise self._failed(name, verdict)
            since = self.degraded_since.get(name)
            if since is not None and time.monotonic() - since >= self.o.grace and verdict is not None:
                raise CheckFailed(
                    f"app {name!r} stayed Degraded for {self.o.grace:g}s (the grace period) at revision "
                    f"{short(self.o.revision)}: {_one_line(verdict.reason)}",
                    hint=f"argocd app get {name} --show-operation; kubectl describe the failing resources",
                    result=self.result(),
                )
        return all(
            self.verdicts.get(n) is not None and self.verdicts[n].status == SUCCEEDED for n in self.o.apps
        )

    def _failed(self, name: str, verdict: Verdict) -> CheckFailed:
        hint = None
        self.progress.stop()
        if verdict.failed_hooks:
            for hook in verdict.failed_hooks:
                self.ctx.console.error(
                    f"{name}: hook {hook.hook_type} {hook.kind} {hook.name!r} in namespace "
                    f"{hook.namespace or '?'} {hook.phase}: {hook.message or 'no message'}"
                )
                self.ctx.console.info(f"  read its logs: {hook.log_hint(name)}")
            hint = f"read the hook's logs: {verdict.failed_hooks[0].log_hint(name)}"
            if any(h.hook_type == "PostSync" for h in verdict.failed_hooks):
                from pipekit.reports.publish import show_for_failed_hook

                show_for_failed_hook(self.ctx, self.o.revision)  # what the PostSync test Job uploaded
        return CheckFailed(
            f"app {name!r} at revision {short(self.o.revision)}: {_one_line(verdict.reason)}",
            hint=hint,
            result=self.result(),
        )

    def next_wake(self) -> float:
        now = time.monotonic()
        wake = self.deadline
        for since in self.degraded_since.values():
            wake = min(wake, since + self.o.grace)
        if self.last_error is not None:
            wake = min(wake, self.last_ok + self.o.unreachable_after)
        return max(0.0, wake - now)

    def timed_out(self) -> TimedOut:
        parts = []
        for name in self.o.apps:
            verdict, state = self.verdicts.get(name), self.states.get(name)
            if verdict is None or state is None:
                parts.append(f"{name}: no state seen")
            elif verdict.status != SUCCEEDED:
                parts.append(
                    f"{name} (sync {state.sync}, health {state.health}, operation {state.phase or 'none'}): "
                    + "; ".join(verdict.missing)
                )
        manual = [n for n in self.o.apps if n in self.apps and not _auto_sync(self.apps[n])]
        hint = "raise --timeout, or look at the app in Argo CD"
        if manual and not self.o.sync:
            hint = f"{', '.join(manual)} without automated sync: pass --sync"
        return TimedOut(
            f"timed out after {self.o.timeout:g}s waiting for revision {short(self.o.revision)}: "
            + _one_line(" | ".join(parts)),
            hint=hint,
            result=self.result(),
        )


def run(options: WaitOptions, ctx: StepContext) -> WaitResult:
    from pipekit.clients.argocd_watch import APP, ERROR, FATAL, Watcher

    if not options.apps:
        raise BadInput(
            "no Argo CD app: pass --app NAME, or set argocd.apps.<env> in pipekit.yaml and --env ENV"
        )
    if not options.revision:
        raise BadInput("no revision to wait for: pass --revision SHA")
    with ctx.record.recording(WaitResult.SECTION) as outputs:
        WaitResult(options.revision, [AppOutcome(n) for n in options.apps]).write_to(outputs)
        w = _Wait(options, ctx)
        client = options.client(
            total_timeout=max(1.0, min(options.unreachable_after, options.timeout)), backoff=options.backoff
        )
        watcher = Watcher(
            client,
            options.apps,
            poll_interval=options.poll_interval,
            stream=options.stream,
            project=options.project,
            app_namespace=options.app_namespace,
            idle_timeout=options.stream_idle_timeout,
            request_timeout=options.request_timeout,
        )
        w.progress.start()
        try:
            for name in options.apps:
                w.see(
                    name,
                    client.get_app(
                        name,
                        refresh=options.refresh,
                        project=options.project,
                        app_namespace=options.app_namespace,
                    ),
                )
            if options.sync:
                _sync(client, options, w)
            else:
                for name in options.apps:
                    if not _auto_sync(w.apps.get(name)):
                        ctx.console.warn(
                            f"{name} has no automated sync policy: nothing syncs revision "
                            f"{short(options.revision)} unless someone does (pass --sync)"
                        )
            w.last_ok = time.monotonic()
            watcher.start()
            while not w.check():
                wait = w.next_wake()
                if time.monotonic() >= w.deadline:
                    raise w.timed_out()
                if time.monotonic() - w.last_ok >= options.unreachable_after and w.last_error is not None:
                    raise ExternalError(
                        f"Argo CD at {client.url} unreachable for {options.unreachable_after:g}s: "
                        f"{_err(w.last_error)}",
                        result=w.result(),
                    )
                try:
                    event = watcher.events.get(timeout=max(0.01, wait))
                except queue.Empty:
                    continue
                if event.kind == APP and event.app is not None:
                    w.last_ok, w.last_error = event.at, None
                    w.see(event.name, event.app)
                elif event.kind == FATAL and isinstance(event.error, PipekitError):
                    event.error.result = w.result()
                    raise event.error
                elif event.kind == ERROR:
                    w.last_error = event.error
                    ctx.console.debug(f"{event.name}: {event.source} failed: {_err(event.error)}")
        finally:
            watcher.stop()
            client.close()
            w.progress.stop()
            final = w.result()
            final.write_to(outputs)
    ctx.console.success(
        f"{', '.join(options.apps)} synced, healthy and hooks passed at revision "
        f"{short(options.revision)} ({final.waited_s:.1f}s)"
    )
    return final


def _sync(client: Any, options: WaitOptions, w: _Wait) -> None:
    for name in options.apps:
        try:
            client.sync(name, options.revision, project=options.project, app_namespace=options.app_namespace)
            w.progress.note(f"{name}: sync to {short(options.revision)} requested")
        except CheckFailed as exc:
            if "already in progress" not in exc.message:
                raise
            w.progress.note(f"{name}: an operation is already running; waiting for it")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _auto_sync(app: dict[str, Any] | None) -> bool:
    policy = ((app or {}).get("spec") or {}).get("syncPolicy") or {}
    return isinstance(policy, dict) and bool(policy.get("automated"))


def _err(exc: BaseException | None) -> str:
    return str(exc) if isinstance(exc, PipekitError) else type(exc).__name__


def _handed_on(ctx: StepContext, strict: bool = True) -> list[UpdateTagResult | PromoteResult]:
    """The update-tag and promote sections that ran (newest first). With ``strict``, one that did not
    succeed is bad input: its outputs are not what the GitOps repository holds."""
    found: list[UpdateTagResult | PromoteResult] = []
    # newest first: a promote step after the update-tag step whose record it was handed (a later
    # Bitbucket step) waits for its own revision; at the same second, promote is the later one
    handed: tuple[UpdateTagResult | PromoteResult, ...] = (
        PromoteResult.read(ctx.record),
        UpdateTagResult.read(ctx.record),
    )
    sections = sorted(
        handed, key=lambda o: str(ctx.record.step(o.SECTION).get("finished_at") or ""), reverse=True
    )
    for outputs in sections:
        if outputs.step_status is None:
            continue
        if not outputs.succeeded:
            if not strict:
                continue
            step = outputs.SECTION.replace("_", "-")
            raise BadInput(
                f"the {step} step did not succeed (status {outputs.describe_status()} in the run record "
                f"{ctx.record.path}): nothing it recorded is waited for",
                hint=f"fix and rerun {step} first, or pass --revision and --app",
            )
        found.append(outputs)
    return found


def resolve_revision(revision: str | None, ctx: StepContext) -> str:
    if revision:
        return revision
    for outputs in _handed_on(ctx):
        if outputs.gitops_revision:
            return str(outputs.gitops_revision)
        entries = outputs.pull_requests if isinstance(outputs, PromoteResult) else [outputs.pull_request]
        opened = [e for e in entries or [] if e and e.get("state") == "OPEN"]
        if opened:  # by pull request, not merged yet: an older section's revision is not what it deploys
            raise BadInput(
                f"nothing deployed yet to wait for: {outputs.SECTION.replace('_', '-')} opened pull request "
                f"#{opened[0].get('id')} ({opened[0].get('url')}) and did not wait for its merge",
                hint="wait for the merge in that step (--wait-merge, or environments.<env>.pull_request."
                "wait_merge: true), or pass --revision with the merge commit",
            )
    raise BadInput(
        f"no revision to wait for: no --revision, no PIPEKIT_ARGOCD_REVISION, and the run record "
        f"{ctx.record.path} has no update_tag.outputs.gitops_revision or promote.outputs.gitops_revision",
        hint=(
            "run update-tag or promote first in this pipeline "
            "(and keep .pipekit/ as an artifact), or pass --revision"
        ),
    )


def resolve_apps(
    apps: tuple[str, ...], env_name: str | None, mapping: Any, ctx: StepContext, strict: bool = True
) -> list[str]:
    names = [a for item in apps for a in item.replace(",", " ").split() if a]
    if names:
        return list(dict.fromkeys(names))
    if not env_name:
        for outputs in _handed_on(ctx, strict):
            env_name = outputs.environment if isinstance(outputs, UpdateTagResult) else outputs.target
            if env_name:
                break
    mapping = mapping if isinstance(mapping, Mapping) else {}
    if env_name and env_name in mapping:
        value = mapping[env_name]
        return [value] if isinstance(value, str) else list(value)
    where = f"argocd.apps.{env_name} in {ctx.config.where('argocd', 'apps')}" if env_name else "argocd.apps"
    raise BadInput(f"no Argo CD app to wait for: pass --app NAME (or PIPEKIT_ARGOCD_APP), or set {where}")


@step_command(
    "wait-for-argocd",
    WaitOptions,
    help="Wait until Argo CD synced the right revision, healthy, hooks passed.",
)
def main(ctx: StepContext, flags: dict[str, Any]) -> WaitResult:
    return run(options_from(ctx, flags), ctx)


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> WaitOptions:
    resolved = resolve(WaitOptions, ctx, flags)
    o = with_argocd_opts(resolved)
    o.check_sign_in()
    revision = resolve_revision(o.revision, ctx)
    return replace(
        o,
        apps=resolve_apps(tuple(o.apps), o.environment, o.apps_by_env, ctx, strict=not o.revision),
        revision=revision,
        refresh=None if o.refresh == "none" else o.refresh,
        stream=not o.no_stream if resolved.given("no_stream") else o.stream,
    )


if __name__ == "__main__":
    main()
