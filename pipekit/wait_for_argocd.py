"""``pipekit wait-for-argocd``: wait until Argo CD has synced the right revision, healthy, hooks passed.

Story: gather the apps and the expected GitOps revision (default: the run record), ask Argo CD
to refresh (and optionally sync), then watch the stream and re-read each app until every app
is judged (:mod:`pipekit.argocd.state`) succeeded, one fails, or the time is up.
"""

from __future__ import annotations

import queue
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipekit.argocd.state import DEGRADED, FAILED, SUCCEEDED, AppState, Verdict, judge, short
from pipekit.core.errors import BadInput, CheckFailed, ExternalError, PipekitError, TimedOut
from pipekit.core.options import Option, OptionTable
from pipekit.core.outputs import PromoteOutputs, UpdateTagOutputs, WaitForArgocdOutputs
from pipekit.core.step import StepContext, step_command

OPTIONS = OptionTable([
    Option("apps", "--app", env="PIPEKIT_ARGOCD_APP", multiple=True,
           help="Argo CD application name (repeat for several; the variable: comma- or space-separated)."),
    Option("environment", "--env", env=("PIPEKIT_ENV", "PIPEKIT_ENVIRONMENT"),
           help="Take the app names from argocd.apps.ENV in pipekit.yaml."),
    Option("revision", "--revision", env="PIPEKIT_ARGOCD_REVISION",
           help="GitOps revision to wait for [default: run record update_tag/promote]."),
    Option("timeout", "--timeout", env="PIPEKIT_ARGOCD_TIMEOUT", config="argocd.timeout", type="float",
           default=600.0, above=0, help="Seconds to wait in all."),
    Option("refresh", "--refresh", env="PIPEKIT_ARGOCD_REFRESH", config="argocd.refresh", type="choice",
           choices=("normal", "hard", "none"), default="normal", help="Refresh asked for first."),
    Option("sync", "--sync", env="PIPEKIT_ARGOCD_SYNC", config="argocd.sync", type="bool", default=False,
           help="Trigger a sync at the revision (apps without auto-sync)."),
    Option("server", "--server", env="ARGOCD_SERVER", config="argocd.server",
           help="Argo CD server host[:port] or URL."),
    Option("root_path", "--root-path", env="PIPEKIT_ARGOCD_ROOT_PATH", config="argocd.root_path",
           help="Path prefix of a server behind a path (e.g. /argo-cd) [default: ARGOCD_OPTS --grpc-web-root-path]."),
    Option("insecure", "--insecure", env="PIPEKIT_ARGOCD_INSECURE", config="argocd.insecure", type="bool",
           help="Skip TLS certificate verification [default: ARGOCD_OPTS --insecure]."),
    Option("plaintext", "--plaintext", env="PIPEKIT_ARGOCD_PLAINTEXT", config="argocd.plaintext", type="bool",
           help="Use http instead of https [default: ARGOCD_OPTS --plaintext]."),
    Option("grace", "--grace", env="PIPEKIT_ARGOCD_GRACE", config="argocd.grace", type="float", default=60.0,
           minimum=0, help="Seconds health may stay Degraded before failing."),
    Option("poll_interval", "--poll-interval", env="PIPEKIT_ARGOCD_POLL_INTERVAL", config="argocd.poll_interval",
           type="float", default=3.0, above=0, help="Seconds between re-reads of each app."),
    Option("no_stream", "--no-stream", env="PIPEKIT_ARGOCD_NO_STREAM", type="bool",
           help="Only re-read; do not watch the stream."),
    Option("stream", config="argocd.stream", type="bool", default=True,
           help="Watch the application stream as well as re-reading."),
    Option("project", "--project", env="PIPEKIT_ARGOCD_PROJECT", config="argocd.project",
           help="Argo CD project of the apps (tells a missing app from a forbidden one)."),
    Option("app_namespace", "--app-namespace", env="PIPEKIT_ARGOCD_APP_NAMESPACE", config="argocd.app_namespace",
           help="Namespace of the Application resources (apps in any namespace)."),
    Option("request_timeout", env="PIPEKIT_ARGOCD_REQUEST_TIMEOUT", config="argocd.request_timeout", type="float",
           default=15.0, above=0, help="Read timeout of one API request."),
    Option("unreachable_after", env="PIPEKIT_ARGOCD_UNREACHABLE_AFTER", config="argocd.unreachable_after",
           type="float", default=60.0, above=0, help="Seconds without an answer before exit 3."),
    Option("apps_by_env", config="argocd.apps", type="data"),
    Option("argocd_opts", env="ARGOCD_OPTS", help="The argocd CLI's flags: --insecure, --plaintext, --grpc-web-root-path."),
    Option("token", env="ARGOCD_AUTH_TOKEN", secret=True),
    Option("username", env="ARGOCD_USERNAME"),
    Option("password", env="ARGOCD_PASSWORD", secret=True),
])


@dataclass
class WaitOptions:
    apps: list[str]
    revision: str
    server: str
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    root_path: str = ""
    insecure: bool = False
    plaintext: bool = False
    timeout: float = 600.0
    grace: float = 60.0
    poll_interval: float = 3.0
    refresh: str | None = "normal"
    sync: bool = False
    stream: bool = True
    project: str | None = None
    app_namespace: str | None = None
    request_timeout: float = 15.0
    unreachable_after: float = 60.0
    stream_idle_timeout: float = 60.0
    backoff: float = 0.5  # first retry delay of a failed request (grows exponentially, at most 5 s)


@dataclass
class AppOutcome:
    name: str
    sync: str = ""
    health: str = ""
    revision: str = ""
    phase: str = ""
    hooks: list[dict[str, Any]] = field(default_factory=list)
    verdict: str = "waiting"
    missing: list[str] = field(default_factory=list)
    message: str = ""


@dataclass
class WaitResult:
    revision: str
    apps: list[AppOutcome]
    waited_s: float = 0.0
    server: str = ""


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
                out = AppOutcome(name=name, sync=state.sync, health=state.health, revision=state.sync_revision,
                                 phase=state.phase, hooks=summary["hooks"], verdict=verdict.status,
                                 missing=list(verdict.missing), message=verdict.reason)
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
                    result=self.result())
        return all(self.verdicts.get(n) is not None and self.verdicts[n].status == SUCCEEDED for n in self.o.apps)

    def _failed(self, name: str, verdict: Verdict) -> CheckFailed:
        hint = None
        self.progress.stop()
        if verdict.failed_hooks:
            for hook in verdict.failed_hooks:
                self.ctx.console.error(
                    f"{name}: hook {hook.hook_type} {hook.kind} {hook.name!r} in namespace "
                    f"{hook.namespace or '?'} {hook.phase}: {hook.message or 'no message'}")
                self.ctx.console.info(f"  read its logs: {hook.log_hint(name)}")
            hint = f"read the hook's logs: {verdict.failed_hooks[0].log_hint(name)}"
            if any(h.hook_type == "PostSync" for h in verdict.failed_hooks):
                from pipekit.reports.publish import show_for_failed_hook

                show_for_failed_hook(self.ctx, self.o.revision)  # what the PostSync test Job uploaded
        return CheckFailed(f"app {name!r} at revision {short(self.o.revision)}: {_one_line(verdict.reason)}",
                           hint=hint, result=self.result())

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
                parts.append(f"{name} (sync {state.sync}, health {state.health}, operation {state.phase or 'none'}): "
                             + "; ".join(verdict.missing))
        manual = [n for n in self.o.apps if n in self.apps and not _auto_sync(self.apps[n])]
        hint = "raise --timeout, or look at the app in Argo CD"
        if manual and not self.o.sync:
            hint = f"{', '.join(manual)} without automated sync: pass --sync"
        return TimedOut(f"timed out after {self.o.timeout:g}s waiting for revision {short(self.o.revision)}: "
                        + _one_line(" | ".join(parts)), hint=hint, result=self.result())


def run(options: WaitOptions, ctx: StepContext) -> WaitResult:
    from pipekit.clients.argocd import ArgoCDClient, base_url
    from pipekit.clients.argocd_watch import APP, ERROR, FATAL, Watcher

    if not options.apps:
        raise BadInput("no Argo CD app: pass --app NAME, or set argocd.apps.<env> in pipekit.yaml and --env ENV")
    if not options.revision:
        raise BadInput("no revision to wait for: pass --revision SHA")
    url = base_url(options.server, root_path=options.root_path, plaintext=options.plaintext)
    with ctx.record.recording(WaitForArgocdOutputs.SECTION) as outputs:
        WaitForArgocdOutputs(revision=options.revision, apps=[{"name": n} for n in options.apps]).write_to(outputs)
        w = _Wait(options, ctx)
        client = ArgoCDClient(
            url, token=options.token, username=options.username, password=options.password,
            verify=not options.insecure, request_timeout=options.request_timeout,
            total_timeout=max(1.0, min(options.unreachable_after, options.timeout)), backoff=options.backoff,
        )
        watcher = Watcher(client, options.apps, poll_interval=options.poll_interval, stream=options.stream,
                          project=options.project, app_namespace=options.app_namespace,
                          idle_timeout=options.stream_idle_timeout, request_timeout=options.request_timeout)
        w.progress.start()
        try:
            for name in options.apps:
                w.see(name, client.get_app(name, refresh=options.refresh, project=options.project,
                                           app_namespace=options.app_namespace))
            if options.sync:
                _sync(client, options, w)
            else:
                for name in options.apps:
                    if not _auto_sync(w.apps.get(name)):
                        ctx.console.warn(f"{name} has no automated sync policy: nothing syncs revision "
                                         f"{short(options.revision)} unless someone does (pass --sync)")
            w.last_ok = time.monotonic()
            watcher.start()
            while not w.check():
                wait = w.next_wake()
                if time.monotonic() >= w.deadline:
                    raise w.timed_out()
                if time.monotonic() - w.last_ok >= options.unreachable_after and w.last_error is not None:
                    raise ExternalError(
                        f"Argo CD at {url} unreachable for {options.unreachable_after:g}s: {_err(w.last_error)}",
                        result=w.result())
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
            outputs["apps"] = [{k: getattr(a, k) for k in ("name", "sync", "health", "revision", "phase", "hooks")}
                               for a in final.apps]
    ctx.console.success(f"{', '.join(options.apps)} synced, healthy and hooks passed at revision "
                        f"{short(options.revision)} ({final.waited_s:.1f}s)")
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


# -- CLI ------------------------------------------------------------------------------------
def _argocd_opts(text: str | None) -> dict[str, Any]:
    """The few ``ARGOCD_OPTS`` flags the argocd CLI users already set."""
    try:
        words = shlex.split(text or "")
    except ValueError as exc:
        raise BadInput(f"environment variable ARGOCD_OPTS: cannot split it like a shell would ({exc}; its value is not shown: it may hold a token)",
                       hint="balance the quotes, e.g. ARGOCD_OPTS='--grpc-web-root-path /argo-cd'") from None
    found: dict[str, Any] = {}
    for i, word in enumerate(words):
        if word in ("--insecure", "--plaintext"):
            found[word[2:]] = True
        elif word.startswith("--grpc-web-root-path"):
            value = word.split("=", 1)[1] if "=" in word else (words[i + 1] if i + 1 < len(words) else "")
            found["root_path"] = value
    return found


def _handed_on(ctx: StepContext, strict: bool = True) -> list[UpdateTagOutputs | PromoteOutputs]:
    """The update-tag and promote sections that ran (newest first). With ``strict``, one that did not
    succeed is bad input: its outputs are not what the GitOps repository holds."""
    found: list[UpdateTagOutputs | PromoteOutputs] = []
    # newest first: a promote step after the update-tag step whose record it was handed (a later
    # Bitbucket step) waits for its own revision; at the same second, promote is the later one
    handed: tuple[UpdateTagOutputs | PromoteOutputs, ...] = (PromoteOutputs.read(ctx.record),
                                                             UpdateTagOutputs.read(ctx.record))
    sections = sorted(handed,
                      key=lambda o: str(ctx.record.step(o.SECTION).get("finished_at") or ""), reverse=True)
    for outputs in sections:
        if outputs.status is None:
            continue
        if not outputs.succeeded:
            if not strict:
                continue
            step = outputs.SECTION.replace("_", "-")
            raise BadInput(f"the {step} step did not succeed (status {outputs.describe_status()} in the run record "
                           f"{ctx.record.path}): nothing it recorded is waited for",
                           hint=f"fix and rerun {step} first, or pass --revision and --app")
        found.append(outputs)
    return found


def resolve_revision(revision: str | None, ctx: StepContext) -> str:
    if revision:
        return revision
    for outputs in _handed_on(ctx):
        if outputs.gitops_revision:
            return str(outputs.gitops_revision)
    raise BadInput(
        f"no revision to wait for: no --revision, no PIPEKIT_ARGOCD_REVISION, and the run record "
        f"{ctx.record.path} has no update_tag.outputs.gitops_revision or promote.outputs.gitops_revision",
        hint="run update-tag or promote first in this pipeline (and keep .pipekit/ as an artifact), or pass --revision")


def resolve_apps(apps: tuple[str, ...], env_name: str | None, mapping: Any, ctx: StepContext,
                 strict: bool = True) -> list[str]:
    names = [a for item in apps for a in item.replace(",", " ").split() if a]
    if names:
        return list(dict.fromkeys(names))
    if not env_name:
        for outputs in _handed_on(ctx, strict):
            env_name = outputs.environment if isinstance(outputs, UpdateTagOutputs) else outputs.target
            if env_name:
                break
    mapping = mapping if isinstance(mapping, Mapping) else {}
    if env_name and env_name in mapping:
        value = mapping[env_name]
        return [value] if isinstance(value, str) else list(value)
    where = f"argocd.apps.{env_name} in {ctx.config.where('argocd', 'apps')}" if env_name else "argocd.apps"
    raise BadInput(f"no Argo CD app to wait for: pass --app NAME (or PIPEKIT_ARGOCD_APP), or set {where}")


@step_command("wait-for-argocd", OPTIONS, help="Wait until Argo CD synced the right revision, healthy, hooks passed.")
def main(ctx: StepContext, flags: dict[str, Any]) -> WaitResult:
    return run(options_from(ctx, flags), ctx)


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> WaitOptions:
    v = OPTIONS.resolve(ctx, flags)
    opts = _argocd_opts(v["argocd_opts"])
    if not v["server"]:
        raise BadInput("no Argo CD server: set ARGOCD_SERVER (host[:port] or URL), --server, or argocd.server in pipekit.yaml")
    token, username, password = v["token"], v["username"], v["password"]
    if not token and not (username and password):
        raise BadInput("no Argo CD credentials: set ARGOCD_AUTH_TOKEN, or ARGOCD_USERNAME and ARGOCD_PASSWORD")
    revision = resolve_revision(v["revision"], ctx)
    return WaitOptions(
        apps=resolve_apps(v["apps"] or (), v["environment"], v["apps_by_env"], ctx, strict=not v["revision"]),
        revision=revision,
        server=v["server"], token=token, username=username, password=password,
        root_path=v["root_path"] if v["root_path"] is not None else opts.get("root_path", ""),
        insecure=v["insecure"] if v["insecure"] is not None else opts.get("insecure", False),
        plaintext=v["plaintext"] if v["plaintext"] is not None else opts.get("plaintext", False),
        timeout=v["timeout"], grace=v["grace"], poll_interval=v["poll_interval"],
        refresh=None if v["refresh"] == "none" else v["refresh"],
        sync=v["sync"],
        stream=not v["no_stream"] if v.given("no_stream") else v["stream"],
        project=v["project"], app_namespace=v["app_namespace"],
        request_timeout=v["request_timeout"], unreachable_after=v["unreachable_after"],
    )


if __name__ == "__main__":
    main()
