"""``python -m pipekit.testing.kubernetes``: the Kubernetes API stand-in from a shell, with a scenario."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pipekit.testing import serve_until_interrupted
from pipekit.testing.kubernetes.scenario import Rollout
from pipekit.testing.kubernetes.server import KubernetesStandIn

SCENARIOS = ("idle", "rollout", "stalled", "image-pull-backoff", "crashloop")


def kubeconfig(url: str, token: str, namespace: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "standin",
        "clusters": [{"name": "standin", "cluster": {"server": url}}],
        "users": [{"name": "standin", "user": {"token": token}}],
        "contexts": [
            {"name": "standin", "context": {"cluster": "standin", "user": "standin", "namespace": namespace}}
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipekit.testing.kubernetes",
        description="Local Kubernetes API stand-in (Deployments, ReplicaSets, Pods).",
    )
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--deployment", default="demo-service", help="the Deployment the scenario rolls out")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--scenario", choices=SCENARIOS, default="rollout")
    parser.add_argument("--step", type=float, default=1.0, help="seconds between rollout steps")
    parser.add_argument(
        "--linger", type=float, default=3.0, help="seconds the last old pod keeps terminating"
    )
    parser.add_argument("--kubeconfig", type=Path, help="write a kubeconfig for the stand-in here")
    args = parser.parse_args(argv)

    kube = KubernetesStandIn(port=args.port).start()
    rollout = Rollout(kube, args.deployment, args.namespace, replicas=args.replicas)
    if args.scenario == "rollout":
        rollout.start(step=args.step, linger=args.linger)
    elif args.scenario == "stalled":
        rollout.start(step=args.step, stall=True)
    elif args.scenario in ("image-pull-backoff", "crashloop"):
        reason = "ImagePullBackOff" if args.scenario == "image-pull-backoff" else "CrashLoopBackOff"
        rollout.start(step=args.step, waiting=(reason, f"{reason} (stand-in scenario)"))
    config = kubeconfig(kube.url, kube.token, args.namespace)
    print(
        f"Kubernetes API stand-in on {kube.url} (scenario {args.scenario}, deployment/{args.deployment})",
        flush=True,
    )
    if args.kubeconfig:
        args.kubeconfig.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        args.kubeconfig.chmod(0o600)
        print(f"  export KUBECONFIG={args.kubeconfig}", flush=True)
    else:
        print("  (pass --kubeconfig PATH to write a kubeconfig with its token)", flush=True)
    serve_until_interrupted()
    kube.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
