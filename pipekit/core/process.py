"""The one subprocess runner: argument lists only, timeouts, secrets on stdin, masked output.

Every child runs in its own process group, so a timeout or a signal stops it and whatever it
started (``git push`` starts ``git-remote-https``; ``mvn`` a forked JVM). A descendant that left
the group (``setsid``) is found through ``/proc`` while its parent still runs and stopped with the
group; one whose parents all exited before the stop (a daemon that double-forked) is not tracked:
pipekit does not run as a subreaper. A missing executable is
bad input (exit 2) naming the package that provides it; a child that outlives its timeout is
:class:`~pipekit.core.errors.TimedOut` (exit 4); with ``check`` a non-zero exit raises ``error``
(:class:`~pipekit.core.errors.ExternalError` unless the caller says otherwise) naming the command
and the tail of its stderr, masked.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from pipekit.core import masking
from pipekit.core.errors import BadInput, ExternalError, Interrupted, PipekitError, TimedOut

# executable -> where it comes from, for every "not found" message (install_hint): the one table.
PACKAGES: dict[str, str] = {
    "git": "Debian package git",
    "mvn": "Debian package maven (or the project's ./mvnw)",
    "java": "Debian package openjdk-17-jdk-headless",
    "buildah": "Debian package buildah",
    "skopeo": "Debian package skopeo",
    "podman": "Debian package podman",
    "docker": "the docker CLI (Debian package docker.io, or Bitbucket's docker service)",
    "docker-registry": "Debian package docker-registry",
    "kubectl": "kubectl (https://kubernetes.io/docs/tasks/tools/; the base image ships it)",
    "kustomize": "kustomize (or use 'kubectl kustomize')",
    "argocd": "the Argo CD CLI (the base image ships it)",
    "aws": "AWS CLI v2 (the base image ships it)",
    "jq": "Debian package jq",
    "yq": "yq by mikefarah (the base image ships it)",
    "setpriv": "Debian package util-linux",
    "openssl": "Debian package openssl",
    "semgrep": "PyPI package semgrep",
    "bandit": "PyPI package bandit",
    "moto_server": "PyPI package moto[server]",
    "trivy": "trivy (https://trivy.dev)",
    "grype": "grype (https://github.com/anchore/grype)",
    "mmdebstrap": "Debian package mmdebstrap",
    "promtool": "Debian package prometheus",
    "amtool": "Debian package prometheus-alertmanager",
    "chromium": "Debian package chromium",
    "npm": "Debian package npm",
}
STOP_GRACE_S = 3.0

_children: set[subprocess.Popen[Any]] = set()
_children_lock = threading.Lock()
_started: dict[subprocess.Popen[Any], float] = {}
TIMINGS_ENV = "PIPEKIT_TIMINGS"  # a file: each child's program and wall seconds appended as it ends


@dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def describe(argv: Sequence[str]) -> str:
    """A command as shown in messages: masked, and only its first few words."""
    shown = " ".join(argv[:4]) + (" ..." if len(argv) > 4 else "")
    return masking.mask(shown)


def install_hint(name: str) -> str | None:
    """Where the executable ``name`` comes from (``install <this>``), when the table knows it."""
    return PACKAGES.get(os.path.basename(name))


def missing_tool(name: str, hint: str | None = None) -> BadInput:
    tool = os.path.basename(name)
    where = hint or install_hint(tool)
    return BadInput(f"{tool} not found on PATH" + (f": install {where}" if where else ""))


def start(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    stdin: int | IO[Any] | None = subprocess.DEVNULL,
    stdout: int | IO[Any] | None = subprocess.PIPE,
    stderr: int | IO[Any] | None = subprocess.PIPE,
    text: bool = True,
    tool_hint: str | None = None,
) -> subprocess.Popen[Any]:
    """Start a child in its own process group, tracked so that :func:`stop_all` can stop it."""
    args = [os.fspath(a) for a in argv]
    extra: dict[str, Any] = {"encoding": "utf-8", "errors": "replace"} if text else {}
    try:
        proc: subprocess.Popen[Any] = subprocess.Popen(  # noqa: S603 - an argument list, never a shell
            args,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            **extra,
        )
    except FileNotFoundError:
        if cwd is not None and not os.path.isdir(cwd):
            raise BadInput(f"{cwd}: no such folder to run {args[0]} in") from None
        raise missing_tool(args[0], tool_hint) from None
    except PermissionError:
        raise BadInput(f"{args[0]}: not executable") from None
    with _children_lock:
        _children.add(proc)
        _started[proc] = time.monotonic()
    return proc


def stop(proc: subprocess.Popen[Any], grace: float = STOP_GRACE_S) -> bool:
    """SIGTERM the child's process group (and descendants that left it), SIGKILL what is left after
    up to ``grace`` seconds, reap the child. False when it still had not ended after SIGKILL.

    The wait does not reap the child (``WNOWAIT``): until the SIGKILL its zombie keeps the group's
    id from being reused, so the SIGKILL reaches the group's leftovers (grandchildren that ignore
    SIGTERM) and nobody else. Run during a signal's clean-up, where repeated signals are held
    (:mod:`pipekit.core.signals`), it always gets to the SIGKILL.
    """
    ended = True
    try:
        if proc.poll() is None:
            strays = _strays(proc.pid)
            _signal_group(proc, signal.SIGTERM)
            _signal_each(strays, signal.SIGTERM)
            try:
                _exited(proc, grace)
            finally:  # whatever cut the wait short, the group and the strays get SIGKILL
                _signal_group(proc, signal.SIGKILL)
                _signal_each(strays, signal.SIGKILL)
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:  # stuck in the kernel (uninterruptible I/O)
                    ended = False
    finally:
        forget(proc)
    return ended


def kill(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL the child's process group at once and reap it (a child with nothing to finish)."""
    try:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)
        proc.wait()
    finally:
        forget(proc)


def forget(proc: subprocess.Popen[Any]) -> None:
    with _children_lock:
        _children.discard(proc)
        started = _started.pop(proc, None)
    timings = os.environ.get(TIMINGS_ENV)
    if timings and started is not None:
        _time(timings, proc, time.monotonic() - started)


def _time(path: str, proc: subprocess.Popen[Any], seconds: float) -> None:
    """One line per ended child in ``PIPEKIT_TIMINGS``
    (the rehearsal's account of the tools pipekit drove)."""
    raw: Any = proc.args
    tool = os.path.basename(os.fsdecode(raw[0] if isinstance(raw, (list, tuple)) else raw))
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"tool": tool, "s": round(seconds, 4)}) + "\n")
    except OSError:
        pass  # an account, never a reason to fail


def stop_all() -> list[int]:
    """Stop every child still running (after a signal); the pids of those that did not end."""
    with _children_lock:
        live = list(_children)
    return [proc.pid for proc in live if not stop(proc)]


def _signal_group(proc: subprocess.Popen[Any], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _exited(proc: subprocess.Popen[Any], timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the child to exit, leaving it unreaped (a zombie)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:  # reaped already (by another thread's wait)
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _stat(pid: str) -> tuple[int, int, int] | None:
    """(parent pid, process group, start time) of one process from ``/proc/PID/stat``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return int(fields[1]), int(fields[2]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _strays(pid: int) -> list[tuple[int, int]]:
    """(pid, start time) of the descendants of ``pid`` outside its process group (they called setsid)."""
    try:
        names = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:  # no /proc: the process group is all we know
        return []
    children: dict[int, list[tuple[int, int, int]]] = {}
    for name in names:
        found = _stat(name)
        if found is not None:
            children.setdefault(found[0], []).append((int(name), found[1], found[2]))
    strays: list[tuple[int, int]] = []
    todo = [pid]
    while todo:
        for child, group, started in children.get(todo.pop(), []):
            todo.append(child)
            if group != pid:
                strays.append((child, started))
    return strays


def _signal_each(strays: list[tuple[int, int]], sig: int) -> None:
    for pid, started in strays:
        found = _stat(str(pid))
        if found is not None and found[2] == started:  # the same process, not a new one with its pid
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    input: str | bytes | None = None,
    check: bool = True,
    stream: Callable[[str], None] | None = None,
    error: type[PipekitError] = ExternalError,
    what: str | None = None,
    tool_hint: str | None = None,
) -> Result:
    """Run a command to its end. ``input`` goes to stdin (secrets go there, never into argv).

    ``stream`` receives each line of stdout and stderr (masked) as it comes; the result still
    holds the whole output.
    """
    args = [os.fspath(a) for a in argv]
    binary = isinstance(input, bytes)
    proc = start(
        args,
        env=env,
        cwd=cwd,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        text=not binary,
        tool_hint=tool_hint,
    )
    label = what or describe(args)
    if stream is None:
        return finish(proc, timeout=timeout, input=input, check=check, error=error, what=label)
    try:
        out, err = _stream(proc, input, timeout, stream, label)
    except BaseException:  # a timeout, a signal: the child and its group go too
        stop(proc)
        raise
    forget(proc)
    return _result(proc, args, out, err, check, error, label)


def finish(
    proc: subprocess.Popen[Any],
    *,
    timeout: float | None = None,
    input: str | bytes | None = None,
    check: bool = True,
    error: type[PipekitError] = ExternalError,
    what: str | None = None,
    settle: float = 0.0,
) -> Result:
    """Wait for a child from :func:`start` (its output collected), with :func:`run`'s timeout and errors.

    For work done in this process while the child runs (start, do it, then finish). With
    ``settle``, a signal does not cut the child at once: it gets up to ``settle`` seconds more
    to finish (a ``git push`` the remote may already be taking in), then it is stopped and the
    signal raised, so the caller can find out what the child's work left behind.
    """
    raw: Any = proc.args  # start() always passes a list of str
    args = [os.fsdecode(a) for a in (raw if isinstance(raw, (list, tuple)) else [raw])]
    label = what or describe(args)
    try:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimedOut(f"{label} did not finish within {timeout:g} s") from None
    except Interrupted:
        try:
            if settle > 0:
                from pipekit.core import signals

                with signals.deferred():
                    try:
                        proc.communicate(timeout=settle)
                    except subprocess.TimeoutExpired:
                        pass
        finally:
            stop(proc)
        raise
    except BaseException:  # a timeout, a signal: the child and its group go too
        stop(proc)
        raise
    forget(proc)
    return _result(proc, args, out, err, check, error, label)


def _result(
    proc: subprocess.Popen[Any],
    args: list[str],
    out: Any,
    err: Any,
    check: bool,
    error: type[PipekitError],
    label: str,
) -> Result:
    out = out.decode("utf-8", "replace") if isinstance(out, bytes) else out
    err = err.decode("utf-8", "replace") if isinstance(err, bytes) else err
    result = Result(args, proc.returncode, out or "", err or "")
    if check and proc.returncode != 0:
        raise error(f"{label} failed (exit {proc.returncode})" + _tail(result.stderr or result.stdout))
    return result


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return (": " + masking.mask(" / ".join(kept))) if kept else ""


def _stream(
    proc: subprocess.Popen[Any],
    input: str | bytes | None,
    timeout: float | None,
    sink: Callable[[str], None],
    label: str,
) -> tuple[str, str]:
    chunks: dict[str, list[str]] = {"out": [], "err": []}
    lock = threading.Lock()

    def pump(name: str, pipe: IO[str] | None) -> None:
        if pipe is None:
            return
        for line in pipe:
            chunks[name].append(line)
            with lock:
                sink(masking.mask(line.rstrip("\n")))

    threads = [
        threading.Thread(target=pump, args=("out", proc.stdout), daemon=True),
        threading.Thread(target=pump, args=("err", proc.stderr), daemon=True),
    ]
    for t in threads:
        t.start()
    if input is not None and proc.stdin is not None:
        try:
            proc.stdin.write(input)
            proc.stdin.close()
        except BrokenPipeError:
            pass
    deadline = None if timeout is None else time.monotonic() + timeout
    while proc.poll() is None:
        if deadline is not None and time.monotonic() >= deadline:
            raise TimedOut(f"{label} did not finish within {timeout:g} s")
        try:
            proc.wait(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            pass
    for t in threads:
        t.join(5)
    return "".join(chunks["out"]), "".join(chunks["err"])
