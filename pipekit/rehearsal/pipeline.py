"""How the rehearsal runs the generated pipeline: where its steps run, its caches, its variables, its runs.

**Where.** Bitbucket runs each step in the pipeline's image. Here that is the local base image
(``localhost/pipekit-base:<version>-local``, built by ``scripts/build-image.sh --local``) through
``run-pipeline --image-map``, when it exists and holds this very pipekit (its package files are
compared once per image ID, cached); otherwise the steps run on this machine, and the summary says
why and that the image's tool set was not checked.

**Caches.** No Maven Central here: the pipeline's Maven cache (``~/.m2/repository`` in
``definitions.caches``) is seeded once from this machine's ``~/.m2/repository`` (hard links where
possible, the folders owned by the image's user) in the rehearsal's cache folder, which outlives
the run as Bitbucket's caches do, and the steps get ``PIPEKIT_MAVEN_OFFLINE=true``.

**Runs.** ``run-pipeline --trigger branch:master`` runs until the first manual step and pauses
there, as Bitbucket does; each later run approves the step it paused before (``--from`` it, in the
same work folder, with the artifacts the earlier runs kept), as the release manager's click in
Bitbucket would. Every step's pipekit records how long the tools it drives took
(``PIPEKIT_TIMINGS``), so the summary can tell pipekit's own share of the time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipekit import __version__
from pipekit.core import yamlload

BASE_IMAGE = f"localhost/pipekit-base:{__version__}-local"
IMAGE_UID = 1000  # the base image's pipekit user
TIMINGS = ".pipekit/timings.jsonl"  # in each step's clone: the tools its pipekit commands drove, and how long
TOOLS = {
    "mvn": "Maven",
    "java": "Maven",
    "git": "git",
    "kubectl": "kubectl",
    "semgrep": "semgrep",
    "pysemgrep": "semgrep",
    "docker": "buildah/podman",
    "buildah": "buildah/podman",
    "podman": "buildah/podman",
}
RUNNER_TOOL_PHASES = {
    "clone": "git",
    "image": "buildah/podman",
    "services": "buildah/podman",
    "clean-up": "buildah/podman",
}


@dataclass
class Where:
    image: str | None  # the local image the steps run in; None: this machine
    note: str


def cache_root(env: Mapping[str, str]) -> Path:
    base = Path(env.get("XDG_CACHE_HOME") or Path(env.get("HOME") or Path.home()) / ".cache")
    return base / "pipekit" / "rehearse"


def choose_image(requested: str | None, env: Mapping[str, str]) -> Where:
    """Where the steps run: ``requested`` (``none``: this machine),
    else the base image when it holds this pipekit."""
    from pipekit.clients.workcontainers import WorkContainers

    if requested == "none":
        return Where(
            None, "--image none: the steps ran on this machine; the image's tool set was not checked"
        )
    image = requested or BASE_IMAGE
    if shutil.which("buildah", path=env.get("PATH")) is None or WorkContainers().image_config(image) is None:
        how = "" if requested else " (build it with scripts/build-image.sh --local: 3 to 6 minutes)"
        return Where(
            None,
            f"no local image {image}{how}: the steps ran on this machine; the image's tool set "
            "was not checked",
        )
    if requested is None and not holds_this_pipekit(image, env):
        return Where(
            None,
            f"the local image {image} holds another pipekit than this one (built from another "
            "tree; rebuild it with scripts/build-image.sh --local): the steps ran on this machine; "
            "the image's tool set was not checked",
        )
    return Where(
        image,
        f"every step ran in the local image {image} (buildah run, as Bitbucket runs the pipeline's image)",
    )


def package_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def holds_this_pipekit(image: str, env: Mapping[str, str]) -> bool:
    """Whether ``image``'s pipekit package is this one, file for file (the answer cached per image ID)."""
    import pipekit
    from pipekit.clients.workcontainers import WorkContainers
    from pipekit.core import process

    ours = package_digest(Path(pipekit.__file__).parent)
    found = process.run(
        ["buildah", "inspect", "--type", "image", "--format", "{{.FromImageID}}", image],
        check=False,
        timeout=60,
    )
    known_file = cache_root(env) / "images.json"
    try:
        known: dict[str, str] = json.loads(known_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    image_id = found.stdout.strip()
    if image_id not in known:
        tool = WorkContainers()
        container = tool.create(image, f"pipekit-rehearse-probe-{os.getpid()}")
        try:
            mounted = process.run(["buildah", "mount", container], check=False, timeout=60).stdout.strip()
            packages = (
                sorted(Path(mounted).glob("opt/pipekit/lib/python3*/site-packages/pipekit"))
                if mounted
                else []
            )
            known[image_id] = package_digest(packages[0]) if packages else ""
        finally:
            tool.remove(container)
        known_file.parent.mkdir(parents=True, exist_ok=True)
        known_file.write_text(json.dumps(known, indent=1), encoding="utf-8")
    return known[image_id] == ours


def maven_caches(pipeline_file: Path) -> list[str]:
    """The names of the pipeline's caches of ``~/.m2/repository`` (``definitions.caches``,
    or the predefined one)."""
    doc = yamlload.load(pipeline_file.read_text(encoding="utf-8"), str(pipeline_file)) or {}
    caches = ((doc.get("definitions") or {}).get("caches") or {}) if isinstance(doc, dict) else {}
    named = [
        str(name)
        for name, value in caches.items()
        if (value.get("path") if isinstance(value, dict) else value)
        in ("~/.m2/repository", "$HOME/.m2/repository")
    ]
    return named or ["maven"]


def seed_maven(root: Path, names: list[str], env: Mapping[str, str]) -> str:
    """Seed each Maven cache (version ``static``) from ``~/.m2/repository`` once; what was done, as a line."""
    source = Path(env.get("HOME") or Path.home()) / ".m2" / "repository"
    if not source.is_dir():
        return f"no {source}: the Maven cache is not seeded and Maven will look for Maven Central"
    done = []
    for name in names:
        final = root / "caches" / name / "static"
        if final.is_dir():
            continue
        began = time.monotonic()
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".seeding-", dir=final.parent))
        try:
            shutil.copytree(source, staging / "content", symlinks=True, copy_function=_link_or_copy)
            if os.geteuid() == 0:  # the image's user may add to it (the files themselves stay read-only)
                for path in (staging / "content", *(staging / "content").rglob("*")):
                    if path.is_dir() and not path.is_symlink():
                        os.chown(path, IMAGE_UID, IMAGE_UID)
            (staging / "cache.json").write_text(
                json.dumps(
                    {
                        "path": "~/.m2/repository",
                        "key_files": [],
                        "saved_at": time.time(),
                        "seeded_from": str(source),
                    }
                ),
                encoding="utf-8",
            )
            os.rename(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        done.append(f"{name} ({time.monotonic() - began:.1f} s)")
    return f"seeded {', '.join(done)} from {source}" if done else f"kept from an earlier rehearsal ({source})"


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


FAST_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"  # Maven's own JVM: a short build starts faster


def variables(
    world: Any, settings: Mapping[str, Any], channels: tuple[str, ...], private: str, password: str
) -> dict[str, Any]:
    """Bitbucket's repository variables for the generated pipeline, pointed at the stand-ins."""
    from pipekit.rehearsal import onboard
    from pipekit.rehearsal.world import secured

    out: dict[str, Any] = {
        **world.variables(),
        "PIPEKIT_MAVEN_OFFLINE": "true",
        "MAVEN_OPTS": FAST_JVM,
        "PIPEKIT_SEMGREP_CONFIG": onboard.SEMGREP_RULES,
        "PIPEKIT_SCAN_SUBSTITUTE": f"trivy={onboard.TRIVY_REPORT}",
        "PIPEKIT_SIGNING_KEY": "env://COSIGN_PRIVATE_KEY",
        "COSIGN_PRIVATE_KEY": secured(private),
        "COSIGN_PASSWORD": secured(password),
        "PIPEKIT_NOTIFY_TIMEOUT": "5",
        "PIPEKIT_NOTIFY_ATTEMPTS": "2",
        "PIPEKIT_TIMINGS": TIMINGS,
    }
    configured = (
        ((settings.get("notify") or {}).get("channels") or []) if isinstance(settings, Mapping) else []
    )
    if configured:  # notify.channels: each webhook variable points at the sink, under the channel's name
        for channel in configured:
            if channel.get("type") in channels:
                out[str(channel["webhook_env"])] = secured(
                    world.webhook(str(channel["type"]), str(channel["name"]))
                )
    else:
        for kind in channels:
            out[f"PIPEKIT_{kind.upper()}_WEBHOOK_URL"] = secured(world.webhook(kind, kind))
    return out


# -- the runs ----------------------------------------------------------------------------------
@dataclass
class Run:
    result: Any  # RunPipelineResult
    approved: str | None = None  # the manual step this run approved


def run_all(
    ctx: Any,
    repo: Path,
    workdir: Path,
    variables: Path,
    cache: Path,
    where: Where,
    *,
    until: str | None = None,
    stop_for: str | None = None,
    between: Callable[[Any], str | None] | None = None,
    on_pause: Callable[[str], None] | None = None,
) -> list[Run]:
    """Run the pipeline for ``branch:master`` (to ``until``, else its end), approving each manual step it
    pauses before. With ``stop_for``, the first run stops after that step and ``between(result)``
    (the rehearsal changing a stand-in) names the step the next run continues from."""
    from pipekit import run_pipeline
    from pipekit.core.errors import CheckFailed

    image = generated_image(repo / "bitbucket-pipelines.yml")
    options = run_pipeline.RunPipelineOptions(
        file=repo / "bitbucket-pipelines.yml",
        trigger="branch:master",
        variables=[variables],
        image_map=[f"{image}={where.image}"] if where.image and image else [],
        workdir=workdir,
        keep=True,
        cache_dir=cache,
        ask=False,
        until=stop_for or until,
    )
    runs: list[Run] = []
    approved: str | None = None
    while True:
        try:
            result = run_pipeline.run(options, ctx)
        except CheckFailed as exc:  # a step failed: the pipeline stops there, as on Bitbucket
            runs.append(Run(exc.result, approved))
            return runs
        runs.append(Run(result, approved))
        approved = None
        if stop_for is not None and result.status == "passed" and between is not None:
            follow_on = between(result)
            stop_for = None
            if follow_on is None:
                return runs
            options.from_step, options.until = follow_on, until
            continue
        if result.status != "paused" or not result.paused_at:
            return runs
        approved = result.paused_at
        if on_pause is not None:
            on_pause(approved)
        options.from_step = approved  # --from a manual step runs it: approved


def generated_image(pipeline_file: Path) -> str | None:
    doc = yamlload.load(pipeline_file.read_text(encoding="utf-8"), str(pipeline_file)) or {}
    image = doc.get("image") if isinstance(doc, dict) else None
    name = image.get("name") if isinstance(image, dict) else image
    return str(name) if name else None


def steps_of(runs: list[Run]) -> list[Any]:
    """Each step's latest outcome over the runs (a step before a later run's --from
    keeps the earlier one's)."""
    latest: dict[int, Any] = {}
    for run in runs:
        for step in run.result.steps:
            earlier = step.status == "skipped" and (step.reason or "").startswith("before --from")
            if (
                step.number not in latest or not earlier
            ):  # a step before --from kept the earlier run's outcome
                latest[step.number] = step
    return [latest[n] for n in sorted(latest)]


def tool_seconds(workdir: Path, steps: list[Any]) -> dict[str, dict[str, float]]:
    """Per step: seconds spent in the tools pipekit drives (inside the step, from ``PIPEKIT_TIMINGS``,
    and the runner's clone, container and docker-service work), by tool."""
    out: dict[str, dict[str, float]] = {}
    for step in steps:
        spent: dict[str, float] = {}
        timings = workdir / "steps" / step.key / "clone" / TIMINGS
        if timings.is_file():
            for line in timings.read_text(encoding="utf-8").splitlines():
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                tool = TOOLS.get(str(item.get("tool")))
                if tool:
                    spent[tool] = spent.get(tool, 0.0) + float(item.get("s") or 0.0)
        for phase, seconds in (step.phases or {}).items():
            if phase in RUNNER_TOOL_PHASES:
                spent[RUNNER_TOOL_PHASES[phase]] = spent.get(RUNNER_TOOL_PHASES[phase], 0.0) + float(seconds)
        out[step.key] = spent
    return out


def on_the_path(
    pipeline_file: Path, steps: list[Any], tools: Mapping[str, Mapping[str, float]]
) -> dict[str, float]:
    """Seconds in the tools, by tool, on the pipeline's path: of a parallel group, its longest step's."""
    from pipekit.pipelines import parse, plan, selection

    file = parse.load(pipeline_file)
    batches = {
        p.number: p.batch
        for p in plan.lay_out(selection.select(file, selection.parse_trigger("branch:master", None)))
    }
    longest: dict[int, Any] = {}
    for step in steps:
        batch = batches.get(step.number, -step.number)
        if batch not in longest or step.duration_s > longest[batch].duration_s:
            longest[batch] = step
    out: dict[str, float] = {}
    for step in longest.values():
        for tool, seconds in tools.get(step.key, {}).items():
            out[tool] = round(out.get(tool, 0.0) + seconds, 2)
    return out


def views(ctx: Any, onboarded: Any, result: Any) -> None:
    """``pipekit dora`` (every environment; the table here, an HTML file beside it)
    and ``pipekit history``."""
    import io

    from pipekit import dora, history
    from pipekit.core.console import Console
    from pipekit.core.step import StepContext
    from pipekit.rehearsal.onboard import BRANCH

    env = {**ctx.env, "PIPEKIT_GITOPS_REPO": str(onboarded.gitops), "PIPEKIT_GITOPS_BRANCH": BRANCH}
    view = StepContext.create(
        env=env,
        run_record=Path(result.workdir) / "rehearse.json",
        config_path=onboarded.repo / "pipekit.yaml",
        cwd=onboarded.repo,
    )
    view.console = ctx.console
    try:
        html = Path(result.workdir) / "dora.html"
        dora.run(dora.DoraOptions(gitops_repo=str(onboarded.gitops), branch=BRANCH, environments=()), view)
        quiet = StepContext.create(
            env=env, run_record=view.record.path, config_path=view.config.path, cwd=onboarded.repo
        )
        quiet.console = Console(stream=io.StringIO())
        found = dora.run(
            dora.DoraOptions(
                gitops_repo=str(onboarded.gitops),
                branch=BRANCH,
                environments=(),
                format="html",
                out=str(html),
            ),
            quiet,
        )
        result.dora = f"dora: {found.deployments} deployment(s), every environment; HTML report {html}"
        ctx.console.info(result.dora)
    except Exception as exc:  # a view of the run; the run itself is told above
        ctx.console.warn(f"dora report: {type(exc).__name__}: {exc}")
    try:
        listed = history.run(history.options_from(view, {}), view)
        where = sorted({e.environment for e in listed.deployments if e.current})
        result.history = (
            f"history: {len(listed.deployments)} deployment(s) of {listed.service}; running in "
            f"{', '.join(where)}"
        )
        ctx.console.info(result.history)
    except Exception as exc:
        ctx.console.warn(f"history: {type(exc).__name__}: {exc}")
