"""``python -m pipekit.testing.bitbucket``: the Bitbucket stand-in from a shell, for a rehearsal or a demo.

Serves one GitOps repository (a bare repository it makes from ``--seed`` when ``--repo`` does not
exist) under both flavours' paths, with a token for pipekit and reviewers who can approve with
theirs; prints the variables and ``pipekit.yaml`` settings a pipeline needs; logs each request.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipekit.testing import serve_until_interrupted
from pipekit.testing.bitbucket.server import BitbucketStandIn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipekit.testing.bitbucket",
        description="A local Bitbucket (Cloud and Data Center pull requests) on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--repo", required=True, help="the bare GitOps repository to serve (made if missing)")
    parser.add_argument("--seed", help="a folder whose files the new repository starts with")
    parser.add_argument("--branch", default="main", help="its main branch [main]")
    parser.add_argument("--owner", default="acme", help="Cloud workspace / Data Center project key [acme]")
    parser.add_argument("--slug", default="gitops", help="repository slug [gitops]")
    parser.add_argument(
        "--flavour",
        choices=("cloud", "datacenter"),
        default="cloud",
        help="which settings to print (both APIs are served)",
    )
    parser.add_argument("--min-approvals", type=int, default=1, help="the merge check: approvals needed [1]")
    parser.add_argument("--user", default="pipekit-bot", help="the user pipekit's token acts as")
    parser.add_argument(
        "--reviewer",
        action="append",
        default=[],
        metavar="NAME",
        help="a reviewer (repeat); their token is NAME-token",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    token = os.environ.get("PIPEKIT_GITOPS_TOKEN") or "standin-gitops-token"
    log = None if args.quiet else (lambda m, p, s: print(f"{m} {p} -> {s}", flush=True))
    standin = BitbucketStandIn(port=args.port, log=log)
    try:
        repo = standin.add_repository(
            args.owner,
            args.slug,
            Path(args.repo).resolve(),
            seed=Path(args.seed) if args.seed else None,
            main_branch=args.branch,
            min_approvals=args.min_approvals,
        )
    except Exception as exc:  # noqa: BLE001 - a bad --repo or --seed, said in one line
        print(f"error: {exc}", file=sys.stderr)
        return 2
    standin.add_token(token, args.user)
    for name in args.reviewer:
        standin.add_token(f"{name}-token", name)
    standin.start()
    env, config = standin.pipeline_settings(repo, token, flavour=args.flavour)
    section = config["gitops"]["pull_request"]
    print(f"Bitbucket stand-in on {standin.base_url}: {args.owner}/{args.slug} at {repo.path}", flush=True)
    print("  export " + " ".join(f"{k}={v}" for k, v in sorted(env.items(), reverse=True)), flush=True)
    print(
        f"  pipekit.yaml: gitops: {{repo: {repo.path}, pull_request: {{"
        + ", ".join(f"{k}: {v}" for k, v in section.items())
        + "}}",
        flush=True,
    )
    for name in args.reviewer:
        user = standin.users[name]
        who = user.uuid if args.flavour == "cloud" else name
        print(f"  reviewer {name}: {who} (token {name}-token)", flush=True)
    serve_until_interrupted()
    standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
