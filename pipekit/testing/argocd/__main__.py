"""``python -m pipekit.testing.argocd``: run the Argo CD stand-in for a rehearsal or a demo."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipekit.testing import serve_until_interrupted
from pipekit.testing.argocd import scenario as scenario_mod
from pipekit.testing.argocd.server import ArgoCDStandIn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipekit.testing.argocd", description="A local Argo CD API stand-in on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--scenario", help="YAML/JSON scenario file (apps, timed states, faults)")
    parser.add_argument("--gitops-repo", help="follow this local GitOps repository (bare or not)")
    parser.add_argument(
        "--app",
        action="append",
        default=[],
        metavar="NAME=OVERLAY",
        help="with --gitops-repo: serve app NAME from OVERLAY (repeat)",
    )
    parser.add_argument("--branch", default="main", help="GitOps branch to follow [main]")
    parser.add_argument("--step", type=float, default=0.5, help="seconds between deployment phases [0.5]")
    parser.add_argument(
        "--poll", type=float, default=3.0, help="seconds between looks at the branch head [3]"
    )
    parser.add_argument("--root-path", default="", help="serve under this path prefix")
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="NAME",
        help="accept POST /api/v1/session for NAME with the password in ARGOCD_PASSWORD",
    )
    parser.add_argument("--no-auth", action="store_true", help="accept requests without a token")
    parser.add_argument(
        "--token-file",
        default=".pipekit/argocd-standin.token",
        help="write the accepted bearer token here [.pipekit/argocd-standin.token]",
    )
    args = parser.parse_args(argv)
    if not args.scenario and not args.gitops_repo:
        parser.error("give --scenario FILE or --gitops-repo PATH with --app NAME=OVERLAY")
    users = {u: os.environ.get("ARGOCD_PASSWORD", "") for u in args.user}
    standin = ArgoCDStandIn(
        port=args.port,
        token=os.environ.get("ARGOCD_AUTH_TOKEN") or None,
        users=users,
        auth=not args.no_auth,
        root_path=args.root_path,
    )
    try:
        if args.scenario:
            scenario_mod.apply(standin, scenario_mod.load(args.scenario))
        if args.gitops_repo:
            from pipekit.testing.argocd.gitops import GitOpsFollower

            follower = GitOpsFollower(standin, step=args.step, poll=args.poll)
            for item in args.app:
                name, _, overlay = item.partition("=")
                if not name or not overlay:
                    parser.error(f"--app {item!r}: expected NAME=OVERLAY, e.g. orders-dev=overlays/dev")
                follower.follow(name, args.gitops_repo, overlay, args.branch)
            follower.start()
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    standin.start()
    token_file = Path(args.token_file)
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(standin.token + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    print(f"Argo CD stand-in on {standin.url} serving {', '.join(sorted(standin.apps))}", flush=True)
    print(
        f"  export ARGOCD_SERVER={standin.server}{standin.root_path} ARGOCD_AUTH_TOKEN=$(cat {token_file}); "
        "use --plaintext",
        flush=True,
    )
    serve_until_interrupted()
    standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
