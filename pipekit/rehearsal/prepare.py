"""The rehearsal's world before its stages: the sample checkout onboarded by ``pipekit init``, the
one merged ``pipekit.yaml`` (:mod:`pipekit.rehearsal.settings`), and a Bitbucket-shaped
environment with no real webhook, token or cloud setting in it."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipekit.core.revision import short_revision
from pipekit.core.step import StepContext
from pipekit.rehearsal import failures
from pipekit.rehearsal.stages import Rehearsal, Stage

KEPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "NO_COLOR", "TERM", "JAVA_HOME", "M2_HOME", "MAVEN_HOME",
            "XDG_RUNTIME_DIR", "CONTAINERS_STORAGE_CONF", "STORAGE_DRIVER", "BUILDAH_ISOLATION")


def local_env(commit: str, service: str, sink: Any, channels: tuple[str, ...],
              workdir: Path | None = None, user_channels: Sequence[Mapping[str, Any]] = ()) -> dict[str, str]:
    """A Bitbucket-shaped environment for the sample's commit; no real webhook, token or cloud setting."""
    env = {k: v for k, v in os.environ.items() if k in KEPT_ENV}
    env.update(
        BITBUCKET_COMMIT=commit,
        BITBUCKET_BRANCH="main",
        BITBUCKET_BUILD_NUMBER="1",
        BITBUCKET_REPO_SLUG=service,
        BITBUCKET_WORKSPACE="local",
        BITBUCKET_REPO_FULL_NAME=f"local/{service}",
        BITBUCKET_PIPELINE_UUID="{rehearsal-" + short_revision(commit) + "}",
        PIPEKIT_NOTIFY_TIMEOUT="5",
        PIPEKIT_NOTIFY_ATTEMPTS="2",
    )
    if workdir is not None:
        env["PIPEKIT_JUNIT_OUT"] = str(workdir / "junit.xml")  # Maven's results, merged, kept with the rest
    for kind in channels:
        env[f"PIPEKIT_{kind.upper()}_WEBHOOK_URL"] = sink.url(kind, secret=f"sig-rehearsal-{kind}")
    for ch in user_channels:  # notify.channels of --config: each webhook variable points at the sink
        env[str(ch["webhook_env"])] = sink.url(str(ch["type"]), secret=f"sig-rehearsal-{ch['name']}")
    return env


def prepare(ctx: StepContext, workdir: Path, sink: Any, servers: Any, chosen: list[Stage], *,
             channels: tuple[str, ...], container_tool: str, fail_at: str | None, fail_stage: str,
             config: Path | None) -> Rehearsal:
    """The sample checkout onboarded by ``pipekit init``, the one merged ``pipekit.yaml``, the environment."""
    from pipekit.rehearsal import onboard, settings, workspace
    from pipekit.rehearsal.scanning import scan_settings

    kept_env = {k: v for k, v in os.environ.items() if k in KEPT_ENV}
    service = workspace.SERVICE
    repo = workspace.service_repo(workdir, kept_env)
    user = settings.read_base(config) if config else None
    environments = (settings.environments_of(user, str(config)) if user is not None else None) or workspace.ENVIRONMENTS
    onboarded = onboard.onboard(workdir, repo, service, environments, kept_env, ctx.console)
    ctx.console.info(onboard.summary(onboarded))
    if fail_at == "tests":
        failures.break_tests(repo, kept_env)
    scan = scan_settings(workdir)
    if fail_at == "scan":
        scan["reports"] = [str(failures.scan_report(workdir, workspace.SCAN_REPORT))]
    missing = workspace.missing_maven_artifacts(Path(kept_env.get("HOME") or Path.home()))
    if missing and any(s.name == "build" for s in chosen):  # e.g. in the base image: no local repository
        ctx.console.warn(f"Maven's local repository lacks the sample's {', '.join(missing)}: the build runs "
                         "online (Maven Central, or the mirror in your settings.xml)")
    local = settings.overrides(workdir, service, repo, container_tool=container_tool,
                               image_repo=onboard.image_repo(service), environments=environments, scan=scan,
                               maven_offline=not missing)
    base = user if user is not None else settings.read_base(repo / "pipekit.yaml")
    merged = settings.merge(base, local, str(config) if config else "pipekit init")
    configured = (merged.data.get("notify") or {}).get("channels")
    if configured and set(channels) != {"teams", "slack"}:  # --channel: only the configured channels of that type
        merged.data["notify"]["channels"] = [c for c in configured if c.get("type") in channels]
    settings.write(merged, workdir / "pipekit.yaml")
    ctx.console.info(settings.describe(merged))
    commit = workspace.git("rev-parse", "HEAD", cwd=repo)
    user_channels = (merged.data.get("notify") or {}).get("channels") or []
    r = Rehearsal(workdir, local_env(commit, service, sink, channels, workdir, user_channels), sink, service, repo,
                  servers, ctx.console, container_tool, planned=tuple(s.name for s in chosen),
                  environments=tuple(merged.environments or environments))
    if fail_at:
        failures.arm(fail_at, r)
        ctx.console.warn(f"--fail-at {fail_at}: {failures.WHAT[fail_at]}; "
                         f"{fail_stage} will fail and nothing after it will run")
    return r
