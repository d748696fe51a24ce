"""The renderer started while git clones (a FIFO stands in for the kustomization), and the render cache."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipekit.clients.kustomize import Prestarted, Renderer
from pipekit.core.step import StepContext
from pipekit.gitops.edits import ImageEdit
from pipekit.gitops.writer import Change
from pipekit.update_tag import UpdateTagOptions, run
from tests.fixtures.gitops.repo import IMAGE, git, make_repo, overlay

ORDERS = IMAGE.format(service="orders")
OVERLAY = "orders/overlays/dev"
PATCH = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders
spec:
  replicas: 3
"""


def checkout(tmp_path: Path) -> Path:
    """A working tree with a patch file next to the overlay's kustomization (more than one file to copy)."""
    _bare, work = make_repo(tmp_path, ["orders", "billing"])
    (work / OVERLAY / "replicas.yaml").write_text(PATCH)
    kust = work / OVERLAY / "kustomization.yaml"
    kust.write_text(kust.read_text() + "patches:\n  - path: replicas.yaml\n")
    return work


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie is dead, only not yet reaped


@pytest.mark.slow
def test_prestarted_render_equals_the_cold_render(tmp_path: Path) -> None:
    work = checkout(tmp_path)
    renderer = Renderer()
    cold = renderer.render(work / OVERLAY, OVERLAY)
    started = renderer.prestart(tmp_path / "render", OVERLAY)
    assert started is not None, "setpriv and kubectl are on this machine: the renderer can start early"
    assert stat.S_ISFIFO(os.stat(started.fifo).st_mode)
    time.sleep(0.3)  # it is up and blocked on the FIFO, not finished
    assert started.proc.poll() is None
    proc = started.feed(work)
    assert proc is not None
    warm = renderer.finish(proc, OVERLAY)
    assert warm == cold and "replicas: 3" in warm
    # Read once through the FIFO; afterwards the path is a plain file with the same bytes.
    fed = tmp_path / "render" / OVERLAY / "kustomization.yaml"
    assert fed.is_file() and not stat.S_ISFIFO(os.stat(fed).st_mode)
    assert fed.read_text() == (work / OVERLAY / "kustomization.yaml").read_text()
    assert not (tmp_path / "render" / ".git").exists()


def test_feed_gives_up_when_the_renderer_is_gone(tmp_path: Path) -> None:
    work = checkout(tmp_path)
    started = Renderer("kubectl kustomize --no-such-flag {dir}").prestart(tmp_path / "render", OVERLAY)
    assert started is not None
    started.proc.wait(timeout=30)
    assert started.feed(work) is None  # the writer then renders cold, which reports the error
    started.stop()


def test_only_kubectl_and_kustomize_start_early(tmp_path: Path) -> None:
    assert Renderer("sh -c 'cat $0/kustomization.yaml' {dir}").prestart(tmp_path / "r1", OVERLAY) is None
    assert Renderer("none").prestart(tmp_path / "r2", OVERLAY) is None


def test_a_waiting_renderer_does_not_outlive_pipekit(tmp_path: Path) -> None:
    """pipekit killed before it feeds the FIFO: the renderer (blocked on it) dies too
    (setpriv --pdeathsig)."""
    script = (
        "import sys; from pathlib import Path; from pipekit.clients.kustomize import Renderer\n"
        f"s = Renderer().prestart(Path({str(tmp_path / 'render')!r}), {OVERLAY!r})\n"
        "print(s.proc.pid, flush=True); import os, time; time.sleep(0.3); os._exit(0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
    )
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)


@pytest.fixture
def ctx(tmp_path: Path) -> StepContext:
    return StepContext.create(run_record=tmp_path / "run.json", env={"PATH": os.environ["PATH"]})


@pytest.mark.slow
def test_update_tag_feeds_the_early_renderer_and_stops_an_unused_one(
    tmp_path: Path, ctx: StepContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare, _ = make_repo(tmp_path, ["orders"])
    started: list[Prestarted] = []
    fed: list[Prestarted] = []
    real_prestart, real_feed = Renderer.prestart, Prestarted.feed

    def prestart(self: Renderer, root: Path, overlay_dir: str) -> Prestarted | None:
        found = real_prestart(self, root, overlay_dir)
        if found is not None:
            started.append(found)
        return found

    def feed(self: Prestarted, tree: Path) -> subprocess.Popen[str] | None:
        fed.append(self)
        return real_feed(self, tree)

    monkeypatch.setattr(Renderer, "prestart", prestart)
    monkeypatch.setattr(Prestarted, "feed", feed)
    options = UpdateTagOptions(gitops_repo=str(bare), path=OVERLAY, image=ORDERS, tag="7654321")
    result = run(options, ctx)
    assert result.status == "pushed" and result.workloads == ["Deployment/orders"]
    assert len(started) == 1 and fed == started and started[0].proc.returncode == 0
    again = run(options, ctx)  # already there: the early renderer is never fed, and is stopped
    assert again.status == "unchanged" and len(started) == 2 and len(fed) == 1
    assert started[1].proc.returncode is not None and not alive(started[1].proc.pid)


@pytest.mark.slow
@pytest.mark.parametrize("competitor_touches, renders", [("billing", 1), ("orders", 2)])
def test_a_rejected_push_renders_again_only_if_the_overlay_trees_changed(
    tmp_path: Path, ctx: StepContext, competitor_touches: str, renders: int
) -> None:
    bare, _ = make_repo(tmp_path, ["orders", "billing"])
    other = tmp_path / "other"
    git("clone", "-q", str(bare), str(other), cwd=tmp_path)
    git("config", "user.email", "o@example.com", cwd=other)
    git("config", "user.name", "Other", cwd=other)
    count = tmp_path / "renders"
    renderer = f"sh -c 'echo x >> {count}; exec kubectl kustomize \"$0\"' {{dir}}"
    calls = {"n": 0}
    real_apply = ImageEdit.apply

    def racing_apply(self: ImageEdit, root: Path) -> Change:
        calls["n"] += 1
        if calls["n"] == 1:  # a competitor lands right after our clone
            path = other / competitor_touches / "base" / "service.yaml"
            path.write_text(path.read_text() + "# touched\n")
            git("commit", "-qam", "competitor", cwd=other)
            git("push", "-q", "origin", "main", cwd=other)
        return real_apply(self, root)

    ImageEdit.apply = racing_apply  # type: ignore[method-assign]
    try:
        result = run(
            UpdateTagOptions(
                gitops_repo=str(bare), path=OVERLAY, image=ORDERS, tag="1212121", renderer=renderer
            ),
            ctx,
        )
    finally:
        ImageEdit.apply = real_apply  # type: ignore[method-assign]
    assert result.status == "pushed" and result.retries == 1
    assert result.workloads == ["Deployment/orders"]
    assert count.read_text().count("x") == renders
    assert '"1212121"' in git("show", f"main:{overlay('orders', 'dev')}", cwd=bare)
