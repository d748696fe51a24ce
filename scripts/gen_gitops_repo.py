#!/usr/bin/env python3
"""Generate a big Kustomize GitOps repository with ``git fast-import`` (for benchmarks).

    python scripts/gen_gitops_repo.py OUT.git [--services 300] [--commits 20000] [--seed 1]

Layout: ``<service>/base/{kustomization,deployment,service}.yaml`` and
``<service>/overlays/{dev,qa,preprod,prod}/kustomization.yaml`` with comments, like a
hand-kept repo. The first commit adds every service; each further commit changes one
overlay's ``newTag`` with pipekit's trailers, as 400 deploys a month would. The result is a
bare repository with ``uploadpack.allowFilter`` on, so partial clones work over ``file://``.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

ENVS = ("dev", "qa", "preprod", "prod")
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"

BASE_KUSTOMIZATION = """\
# Base for {s}: shared by every environment.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:   # the workload and its service
  - deployment.yaml
  - service.yaml
"""
DEPLOYMENT = """\
# The {s} workload.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {s}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {s}
  template:
    metadata:
      labels:
        app: {s}
    spec:
      containers:
        - name: app
          image: {registry}/{s}:latest   # set by the overlays
          ports:
            - containerPort: 8080
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {s}
spec:
  selector:
    app: {s}
  ports:
    - port: 80
      targetPort: 8080
"""
OVERLAY = """\
# {env} overlay for {s} -- hand kept, keep the comments
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization

namespace: {s}-{env}   # one namespace per env

resources:
    - ../../base          # four-space indented list

images:
  # the service image, written by the pipeline
  - name: {registry}/{s}
    newTag: "{tag}"   # short sha, quoted
"""


def service_name(i: int) -> str:
    return f"svc{i:03d}"


def data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def stream(services: int, commits: int, seed: int) -> bytes:
    rng = random.Random(seed)
    out = bytearray()
    when = 1_700_000_000
    ident = "Pipekit <pipekit@example.com>"

    def commit(message: str, files: list[tuple[str, str]]) -> None:
        nonlocal when
        when += 60
        out.extend(b"commit refs/heads/main\n")
        out.extend(f"committer {ident} {when} +0000\n".encode())
        out.extend(data(message))
        for path, text in files:
            out.extend(f"M 100644 inline {path}\n".encode())
            out.extend(data(text))
        out.extend(b"\n")

    seed_files: list[tuple[str, str]] = [("README.md", "# GitOps\n")]
    for i in range(services):
        s = service_name(i)
        seed_files += [
            (f"{s}/base/kustomization.yaml", BASE_KUSTOMIZATION.format(s=s)),
            (f"{s}/base/deployment.yaml", DEPLOYMENT.format(s=s, registry=REGISTRY)),
            (f"{s}/base/service.yaml", SERVICE.format(s=s)),
        ]
        seed_files += [
            (
                f"{s}/overlays/{env}/kustomization.yaml",
                OVERLAY.format(s=s, env=env, registry=REGISTRY, tag="0000000"),
            )
            for env in ENVS
        ]
    commit("Seed the GitOps repository\n", seed_files)
    for n in range(1, commits):
        s = service_name(rng.randrange(services))
        env = rng.choice(ENVS)
        tag = f"{rng.getrandbits(28):07x}"
        message = (
            f"{s}: {env} -> {tag}\n\nPipekit-Service: {s}\nPipekit-Environment: {env}\n"
            f"Pipekit-Image: {REGISTRY}/{s}\nPipekit-Tag: {tag}\nPipekit-Build-Number: {n}\n"
        )
        commit(
            message,
            [
                (
                    f"{s}/overlays/{env}/kustomization.yaml",
                    OVERLAY.format(s=s, env=env, registry=REGISTRY, tag=tag),
                )
            ],
        )
    return bytes(out)


def generate(out: Path, services: int = 300, commits: int = 20_000, seed: int = 1) -> Path:
    if out.exists():
        raise SystemExit(f"{out} exists; remove it first")
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(out)], check=True)
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=out, input=stream(services, commits, seed), check=True
    )
    for key, value in (
        ("uploadpack.allowFilter", "true"),
        ("uploadpack.allowAnySHA1InWant", "true"),
        ("receive.autogc", "false"),
    ):
        subprocess.run(["git", "config", key, value], cwd=out, check=True)
    subprocess.run(["git", "repack", "-adq"], cwd=out, check=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--commits", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.monotonic()
    generate(args.out, args.services, args.commits, args.seed)
    count = subprocess.run(
        ["git", "rev-list", "--count", "main"], cwd=args.out, capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"{args.out}: {count} commits, {args.services} services in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
