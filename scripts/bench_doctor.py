#!/usr/bin/env python3
"""Benchmark ``pipekit doctor`` and the base image. Run with the venv's own interpreter:

    .venv/bin/python scripts/bench_doctor.py [--runs 5] [--skip-rebuild]

1. ``pipekit doctor`` on this machine with every check that can run here: this machine's java,
   mvn, kubectl, git, jq, buildah, skopeo and docker at their versions, the Python dependencies
   (a lock of what this venv has), and the endpoints: an Argo CD stand-in, a GitOps repository
   (git ls-remote), a webhook host (a TCP connection). Target: <= 2 s wall.
2. ``pipekit doctor --image --json`` inside the local image (``buildah run``).
3. The local image's size with a per-layer breakdown (``skopeo copy`` to a dir: uncompressed layers).
4. The rebuild after a pipekit-only change (a copy of the repository with one changed module):
   wall time, and which steps ran instead of coming from the cache.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REF = "localhost/pipekit-base:0.1.0-local"
sys.path.insert(0, str(ROOT))


def sh(*argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, **kw)  # type: ignore[call-overload]


def dpkg(package: str) -> str:
    return sh("dpkg-query", "-W", "-f=${Version}", package, check=True).stdout.strip()


def machine_manifest(work: Path) -> Path:
    from pipekit.diagnostics import tools

    kubectl = tools.read(tools.PROBES["kubectl"]).version
    docker = tools.read(tools.PROBES["docker"]).version
    lock = work / "requirements.lock"
    names = re.findall(r"^([A-Za-z0-9_.-]+)==", (ROOT / "docker" / "requirements.lock").read_text(), re.M)
    lock.write_text("".join(f"{n}=={metadata.version(n)}\n" for n in names))
    java = dpkg("openjdk-17-jdk-headless").split("-")[0].split("+")[0]
    fake = {"amd64": "a" * 64, "arm64": "b" * 64}
    text = f"""tools:
  maven: {{version: "{dpkg("maven")}", kind: debian}}
  openjdk-17-jdk-headless: {{version: "{dpkg("openjdk-17-jdk-headless")}", kind: debian, reports: "{java}"}}
  kubectl: {{version: "v{kubectl}", kind: download, url: "https://x/{{version}}", \
format: binary, sha256: {fake}}}
  docker: {{version: "{docker}", kind: download, url: "https://x/{{version}}", \
format: binary, sha256: {fake}}}
  git: {{version: "{dpkg("git")}", kind: debian}}
  jq: {{version: "{dpkg("jq")}", kind: debian}}
  buildah: {{version: "{dpkg("buildah")}", kind: debian}}
  skopeo: {{version: "{dpkg("skopeo")}", kind: debian}}
  pipekit: {{version: from-pyproject, kind: python, lock: requirements.lock}}
"""
    path = work / "machine.yaml"
    path.write_text(text)
    return path


def bench_machine(runs: int) -> dict[str, object]:
    from pipekit.testing.argocd.server import ArgoCDStandIn

    work = Path(tempfile.mkdtemp(prefix="bench-doctor-"))
    repo = work / "gitops"
    repo.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["-c", "user.email=b@x", "-c", "user.name=b", "commit", "-q", "--allow-empty", "-m", "init"],
    ):
        sh("git", *args, cwd=repo, check=True)
    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(64)
    threading.Thread(target=lambda: [sink.accept()[0].close() for _ in iter(int, 1)], daemon=True).start()
    try:
        with ArgoCDStandIn() as argo:
            config = work / "pipekit.yaml"
            config.write_text(
                f"argocd:\n  server: {argo.server}\n  plaintext: true\ngitops:\n  repo: {repo}\n"
                "notify:\n  channels:\n    - {name: t, type: teams, webhook_env: BENCH_HOOK}\n"
            )
            env = {
                **os.environ,
                "ARGOCD_AUTH_TOKEN": argo.token,
                "BENCH_HOOK": f"http://127.0.0.1:{sink.getsockname()[1]}/hook",
            }
            argv = [
                sys.executable,
                "-m",
                "pipekit",
                "doctor",
                "--manifest",
                str(machine_manifest(work)),
                "--config",
                str(config),
                "--json",
            ]
            walls, cpus, result = [], [], {}
            for _ in range(runs):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                out = sh(*argv, env=env, cwd=work)
                walls.append(time.perf_counter() - t0)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
                result = json.loads(out.stdout)
                if out.returncode != 0:
                    raise SystemExit(f"doctor failed on this machine: {out.stdout}{out.stderr}")
    finally:
        sink.close()
        shutil.rmtree(work, ignore_errors=True)
    return {
        "checks": len(result["checks"]),
        "names": [c["name"] for c in result["checks"]],
        "wall_median_s": round(statistics.median(walls), 3),
        "wall_max_s": round(max(walls), 3),
        "wall_min_s": round(min(walls), 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
        "slowest_checks": sorted(
            ((c["details"].get("elapsed_s", 0), c["name"]) for c in result["checks"]), reverse=True
        )[:3],
    }


def bench_image(runs: int) -> dict[str, object]:
    if sh("buildah", "inspect", "--type", "image", REF).returncode != 0:
        return {"skipped": f"{REF} not built (scripts/build-image.sh --local)"}
    container = sh("buildah", "from", "--pull-never", REF, check=True).stdout.strip()
    try:
        walls, inside = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            out = sh(
                "buildah",
                "run",
                "--isolation",
                "chroot",
                container,
                "--",
                "pipekit",
                "doctor",
                "--image",
                "--json",
            )
            walls.append(time.perf_counter() - t0)
            data = json.loads(out.stdout)
            inside.append(data["elapsed_s"])
    finally:
        sh("buildah", "rm", container)
    return {
        "checks": len(data["checks"]),
        "ok": data["ok"],
        "wall_median_s": round(statistics.median(walls), 3),
        "doctor_elapsed_median_s": round(statistics.median(inside), 3),
    }


def image_layers() -> dict[str, object]:
    info = json.loads(sh("buildah", "inspect", "--type", "image", REF, check=True).stdout)
    history = [h for h in info["Docker"]["history"] if not h.get("empty_layer")]
    with tempfile.TemporaryDirectory(prefix="bench-layers-") as tmp:
        sh("skopeo", "copy", "-q", f"containers-storage:{REF}", f"dir:{tmp}/img", check=True)
        layers = json.loads(Path(tmp, "img", "manifest.json").read_text())["layers"]
    rows = []
    for layer, step in zip(layers, history, strict=False):
        what = re.sub(r"^\|\d+ (?:\S+=\S* )*", "", step.get("created_by", ""))
        what = re.sub(r"\s+", " ", what.replace("/bin/sh -c ", "").replace("#(nop) ", ""))
        rows.append({"mb": round(layer["size"] / 1e6, 1), "step": what[:90]})
    return {"total_mb": round(sum(la["size"] for la in layers) / 1e6, 1), "layers": rows}


def rebuild_after_pipekit_change() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as tmp:
        copy = Path(tmp) / "repo"
        files = sh("git", "ls-files", cwd=ROOT, check=True).stdout.split()
        for name in files:
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / name).is_file():
                shutil.copy2(ROOT / name, target)
        sh("git", "init", "-q", cwd=copy, check=True)
        init = copy / "pipekit" / "__init__.py"
        init.write_text(init.read_text() + f"# bench {time.time()}\n")  # a pipekit-only change
        t0 = time.perf_counter()
        out = sh(
            "bash",
            "scripts/build-image.sh",
            "--local",
            "--tag",
            "localhost/pipekit-base:bench",
            cwd=copy,
            env={**os.environ, "PYTHON": sys.executable},
        )
        wall = time.perf_counter() - t0
    sh("buildah", "rmi", "localhost/pipekit-base:bench")
    if out.returncode != 0:
        return {"failed": out.stderr[-1500:]}
    steps = re.findall(r"^\[(\d)/2\] STEP \d+/\d+: (.*)$", out.stdout, re.M)
    cached = out.stdout.count("Using cache")
    ran = [
        f"{stage}: {s[:60]}"
        for (stage, s), nxt in zip(
            steps, re.split(r"^\[\d/2\] STEP .*$", out.stdout, flags=re.M)[1:], strict=False
        )
        if "Using cache" not in nxt and s.startswith(("RUN", "COPY"))
    ]
    return {
        "wall_s": round(wall, 1),
        "steps_total": len(steps),
        "steps_from_cache": cached,
        "run_or_copy_executed": ran,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-rebuild", action="store_true")
    parser.add_argument("--only-rebuild", action="store_true")
    ns = parser.parse_args()
    if ns.only_rebuild:
        print(
            json.dumps(
                {
                    "load_average_1m": os.getloadavg()[0],
                    "rebuild_after_pipekit_change": rebuild_after_pipekit_change(),
                },
                indent=2,
            )
        )
        return 0
    report: dict[str, object] = {
        "load_average_1m": os.getloadavg()[0],
        "cores": os.cpu_count(),
        "doctor_on_this_machine": bench_machine(ns.runs),
        "doctor_in_image": bench_image(ns.runs),
    }
    if sh("buildah", "inspect", "--type", "image", REF).returncode == 0:
        report["image_local_variant"] = image_layers()
    report["image_jdk17_jdk21_upstream"] = (
        "not buildable here: no image registry and no release server reachable"
    )
    if not ns.skip_rebuild:
        report["rebuild_after_pipekit_change"] = rebuild_after_pipekit_change()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
