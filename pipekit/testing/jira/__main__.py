"""``python -m pipekit.testing.jira``: the Jira stand-in from a shell, seeded with one version.

Prints the ``JIRA_*`` exports and the ``pipekit jira-gate`` command to try; logs each request.
"""

from __future__ import annotations

from pipekit.testing.jira.server import JiraStandIn


def main(argv: list[str] | None = None) -> int:
    import argparse

    from pipekit.testing import serve_until_interrupted

    parser = argparse.ArgumentParser(
        prog="python -m pipekit.testing.jira",
        description="A local Jira (versions and paged issue search) for rehearsals.",
    )
    parser.add_argument("--port", type=int, default=8098)
    parser.add_argument("--deployment", choices=("cloud", "datacenter"), default="cloud")
    parser.add_argument("--project", default="ORD")
    parser.add_argument(
        "--version", default="1.4.2", help="a version of the project (unreleased unless --released)"
    )
    parser.add_argument("--released", action="store_true")
    parser.add_argument(
        "--issues", type=int, default=12, help="issues in the version, all Done but --blocking"
    )
    parser.add_argument("--blocking", type=int, default=1, help="of them, how many are still In Progress")
    parser.add_argument(
        "--fail",
        metavar="STATUS[xTIMES]",
        action="append",
        default=[],
        help="answer the next requests with STATUS, e.g. 429x2 (repeatable, in order)",
    )
    parser.add_argument("--retry-after", default=None, help="Retry-After sent with --fail answers")
    args = parser.parse_args(argv)
    standin = JiraStandIn(
        port=args.port, deployment=args.deployment, log=lambda m, p, s: print(f"{m} {p} -> {s}", flush=True)
    )
    standin.add_version(args.project, args.version, released=args.released)
    for n in range(args.issues):
        standin.add_issue(
            args.project,
            f"change {n + 1}",
            "In Progress" if n < args.blocking else "Done",
            fix_versions=(args.version,),
            assignee=f"dev{n % 3 + 1}",
        )
    for spec in args.fail:
        status, _, times = spec.partition("x")
        if not status.isdigit() or (times and not times.isdigit()):
            parser.error(f"--fail {spec!r}: use STATUS or STATUSxTIMES, e.g. 429x2")
        standin.fail_next(int(status), times=int(times or 1), retry_after=args.retry_after)
    standin.start()
    print(
        f"Jira stand-in ({args.deployment}) on {standin.base_url}: project {args.project}, version "
        f"{args.version}, {args.issues} issues ({args.blocking} not Done)",
        flush=True,
    )
    print(
        f"  export JIRA_BASE_URL='{standin.base_url}' JIRA_USER_EMAIL='me@example.com' "
        "JIRA_API_TOKEN='local-rehearsal-token'",
        flush=True,
    )
    print(
        f"  pipekit jira-gate --project {args.project} --version {args.version} --allowed-statuses Done",
        flush=True,
    )
    serve_until_interrupted()
    standin.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
