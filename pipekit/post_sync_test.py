"""``pipekit post-sync-test``: the entrypoint of the Argo CD PostSync test Job.

Story: wait until the deployed workloads are really ready (:mod:`pipekit.kube.wait`; health URLs
after them), run the suite with its output streamed and its failed tests rerun where the runner can
(:mod:`pipekit.reports.suite_run`), read its JUnit as its tool meant it (:mod:`pipekit.reports.junit`),
keep the results beyond the Job (S3 upload, run record, a card through ``notify``), and exit by the
contract: 0 passed, or only flaky (unless ``--fail-on-flaky``); 1 tests failed (whatever the command's
exit code) or the command failed over a clean report; 2 no report, no test case, a report that is not
safe, well-formed XML or whose counters disagree where its tool's always agree, no command, an unknown
kind, a missing workload, an unreadable token or kubeconfig; 4 not ready in time.

Without a command, the ``--health-url`` checks are the suite: one test per URL, written as JUnit
(``health.xml``) and judged, uploaded and carded like any suite. When every workload waited for is
scaled to 0 replicas (an environment no image has reached yet) there is nothing to test: the step
says so and passes (result ``skipped``).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipekit.clients.kubeconfig import SERVICE_ACCOUNT
from pipekit.core.errors import BadInput, CheckFailed, PipekitError
from pipekit.core.masking import mask_url
from pipekit.core.options import option, resolve
from pipekit.core.outputs import PostSyncTestResult, UpdateTagResult
from pipekit.core.step import StepContext, step_command
from pipekit.reports.junit.dialects import NAMES as JUNIT_DIALECTS
from pipekit.reports.publish import ResultsOptions

if TYPE_CHECKING:
    from pipekit.clients.s3 import S3Location
    from pipekit.reports.suite_run import SuiteRun

__all__ = ["PostSyncTestOptions", "PostSyncTestResult", "main", "options_from", "run"]


@dataclass
class PostSyncTestOptions(ResultsOptions):
    command: list[str] = option(default_factory=list, argument=True, metavar="-- COMMAND...")
    wait_ready: list[str] = option(
        default_factory=list,
        flag="--wait-ready",
        env="PIPEKIT_WAIT_READY",
        config="post_sync_test.wait_ready",
        metavar="KIND/NAME",
        pattern="^[A-Za-z.]+/[^/]+$",
        help="Workload to wait for (repeatable): "
        "deployment/NAME, statefulset/NAME, daemonset/NAME, pod/NAME.",
    )
    namespace: str | None = option(
        flag="--namespace",
        env="PIPEKIT_NAMESPACE",
        config="post_sync_test.namespace",
        help="Namespace of the workloads [default: the in-cluster namespace, the "
        "kubeconfig context's, default].",
    )
    context: str | None = option(
        flag="--context", env="PIPEKIT_KUBE_CONTEXT", help="kubeconfig context (outside the cluster)."
    )
    health_urls: list[str] = option(
        default_factory=list,
        flag="--health-url",
        env="PIPEKIT_HEALTH_URLS",
        config="post_sync_test.health_urls",
        metavar="URL",
        help="URL that must answer 2xx before the suite starts (repeatable).",
    )
    ready_timeout: float = option(
        300.0,
        flag="--ready-timeout",
        env="PIPEKIT_READY_TIMEOUT",
        config="post_sync_test.ready_timeout",
        minimum=0.0,
        help="Seconds to wait for readiness.",
    )
    junit_dir: Path = option(
        Path("test-results"),
        flag="--junit-dir",
        env="PIPEKIT_JUNIT_DIR",
        config="post_sync_test.junit_dir",
        help="Where the suite writes its JUnit XML.",
    )
    rerun_failed: int = option(
        0,
        flag="--rerun-failed",
        env="PIPEKIT_RERUN_FAILED",
        config="post_sync_test.rerun_failed",
        minimum=0,
        maximum=5,
        help="Rerun failed tests up to N times (Surefire, Playwright, pytest, jest).",
    )
    fail_on_flaky: bool = option(
        False,
        flag="--fail-on-flaky",
        env="PIPEKIT_FAIL_ON_FLAKY",
        config="post_sync_test.fail_on_flaky",
        help="A test that passed only on a rerun fails the suite (exit 1).",
    )
    junit_dialect: str = option(
        "auto",
        flag="--junit-dialect",
        env="PIPEKIT_JUNIT_DIALECT",
        config="post_sync_test.junit_dialect",
        choices=JUNIT_DIALECTS,
        help="The tool that wrote the JUnit XML [default: auto, detected per file].",
    )
    environment: str | None = option(
        flag="--env", env=("PIPEKIT_ENV", "PIPEKIT_ENVIRONMENT"), help="Environment on the card."
    )
    revision: str | None = option(
        flag="--revision",
        env=("PIPEKIT_GITOPS_REVISION", "ARGOCD_APP_REVISION"),
        help="GitOps revision on the card [default: the run record].",
    )
    notify: bool = option(
        False,
        flag="--notify",
        env="PIPEKIT_POST_SYNC_NOTIFY",
        config="post_sync_test.notify",
        help="Send the result card through notify.",
    )
    watch: bool = option(True, flag="--watch", help="Watch the API (--no-watch: poll).")
    poll_interval: float = option(2.0, flag="--poll-interval", minimum=0.05, hidden=True)
    command_timeout: float | None = option(
        flag="--command-timeout", minimum=1.0, help="Seconds the suite may run."
    )
    service_account: Path = option(
        SERVICE_ACCOUNT, flag="--service-account-dir", env="PIPEKIT_SERVICE_ACCOUNT_DIR", hidden=True
    )


def run(options: PostSyncTestOptions, ctx: StepContext) -> PostSyncTestResult:
    from pipekit.kube.ready import wait_ready
    from pipekit.kube.targets import parse_all

    if not options.command and not options.health_urls:
        raise BadInput(
            "no suite: pass its command after --, e.g. pipekit post-sync-test --wait-ready "
            "deployment/orders -- mvn -o -B verify, or --health-url URL (a health check as the suite)"
        )
    targets = parse_all(options.wait_ready)
    location = _location(options.upload)
    suite = options.suite or ctx.service or "tests"
    revision = options.revision or UpdateTagResult.read(ctx.record).gitops_revision
    result = PostSyncTestResult(
        suite=suite,
        result="failed",
        environment=options.environment,
        gitops_revision=revision,
        workloads=[str(t) for t in targets],
    )
    suite_run: SuiteRun | None = None
    try:
        with (
            ctx.record.recording(PostSyncTestResult.SECTION) as outputs,
            tempfile.TemporaryDirectory(prefix="pipekit-post-sync-") as scratch,
        ):
            try:
                started = time.monotonic()
                health_only = not options.command  # the health URLs are the suite, checked below
                result.namespace, idle = wait_ready(
                    ctx.env,
                    targets,
                    namespace=options.namespace,
                    context=options.context,
                    service_account=options.service_account,
                    timeout=options.ready_timeout,
                    health_urls=() if health_only else options.health_urls,
                    watch=options.watch,
                    poll_interval=options.poll_interval,
                    say=ctx.console.info,
                )
                result.ready_s = round(time.monotonic() - started, 3)
                if targets and len(idle) == len(targets):
                    result.result = "skipped"
                    result.message = (
                        f"nothing to test: {', '.join(idle)} scaled to 0 replicas "
                        "(no image has reached this environment yet)"
                    )
                    ctx.console.success(result.message)
                    return result
                if targets or (options.health_urls and not health_only):
                    ctx.console.success(
                        f"ready after {result.ready_s:g}s: "
                        + ", ".join(
                            result.workloads
                            + ([] if health_only else [mask_url(u) for u in options.health_urls])
                        )
                    )
                if health_only:
                    suite_run = _health_suite(options, suite, started, Path(scratch), ctx)
                else:
                    suite_run = _run_suite(options, ctx, Path(scratch))
                _judge(suite_run, result, ctx, options.fail_on_flaky)
            except PipekitError as exc:
                result.message = result.message or str(exc)
                exc.result = result
                if suite_run is None:  # before a report was judged: while waiting, or the suite itself
                    waiting = result.ready_s is None
                    result.result = {2: "bad-input", 4: "not-ready" if waiting else "timed-out"}.get(
                        int(exc.exit_code), "not-ready" if waiting else "failed"
                    )
                raise
            finally:
                if suite_run is not None and location is not None:
                    _upload(location, suite_run, result, ctx)
                result.write_to(outputs)
    finally:
        if options.notify:  # after the record holds this step's outputs: the card reads them
            _card(result, ctx, options.environment, options.fail_on_flaky)
    return result


def _location(upload: str | None) -> S3Location | None:
    from pipekit.clients.s3 import S3Location

    return S3Location.parse(upload) if upload else None


def _run_suite(options: PostSyncTestOptions, ctx: StepContext, scratch: Path) -> SuiteRun:
    import os

    from pipekit.reports.reruns import report_env
    from pipekit.reports.suite_run import run_suite

    junit_dir = options.junit_dir
    junit_dir.mkdir(parents=True, exist_ok=True)

    def announce(number: int, argv: list[str]) -> None:
        what = "running the suite" if number == 1 else f"rerun {number - 1} of the failed tests"
        ctx.console.info(f"{what}: {' '.join(argv)}")

    run_ = run_suite(
        options.command,
        junit_dir,
        scratch / "kept",
        rerun=options.rerun_failed,
        env=report_env(os.environ, scratch / "tools"),
        timeout=options.command_timeout,
        stream=ctx.console.print,
        on_attempt=announce,
        dialect=options.junit_dialect,
    )
    if run_.rerun_unsupported:
        ctx.console.warn(
            f"--rerun-failed {options.rerun_failed}: {options.command[0]} has no known way to rerun "
            "only failed tests (Maven Surefire, Playwright, pytest and jest do); not rerun"
        )
    return run_


def _health_suite(
    options: PostSyncTestOptions, suite: str, started: float, scratch: Path, ctx: StepContext
) -> SuiteRun:
    """The ``--health-url`` checks as a suite: one test case per URL, in JUnit, within ``--ready-timeout``."""
    from pipekit.reports.suite_run import health_suite

    ctx.console.info(f"health check (the suite): {', '.join(mask_url(u) for u in options.health_urls)}")
    return health_suite(
        options.health_urls,
        options.junit_dir,
        scratch / "kept",
        suite=suite,
        deadline=started + options.ready_timeout,
        say=ctx.console.info,
    )


def _judge(run_: SuiteRun, result: PostSyncTestResult, ctx: StepContext, fail_on_flaky: bool = False) -> None:
    """Believe the report: failures fail whatever the exit code; a failed command over a clean report fails
    too; flaky tests pass (result ``flaky``) unless ``fail_on_flaky``."""
    s = run_.summary
    result.exit_code, result.attempts, result.tests = run_.exit_code, len(run_.attempts), s.to_record()
    counts = (
        f"{s.passed} passed, {s.failed} failed, {s.errored} errored, {s.skipped} skipped, {s.flaky} flaky"
    )
    result.message = f"{s.total} tests: {counts}"
    for flaky in s.flaky_tests:
        ctx.console.warn(
            f"flaky: {_title(flaky)} passed only on a rerun"
            + (f": {flaky['message']}" if flaky.get("message") else "")
        )
    if not s.ok:
        names = [_title(f) for f in s.failing]
        result.result = "failed"
        raise CheckFailed(
            f"{s.failed + s.errored} of {s.total} test(s) failed ({counts}; command exit "
            f"{run_.exit_code}): " + "; ".join(names[:5]) + (" ..." if len(names) > 5 else "")
        )
    if run_.exit_code != 0:
        result.result = "command-failed"
        raise CheckFailed(
            f"the suite command exited {run_.exit_code} although its report has no failure ({counts})",
            hint="read the command's output above: it failed outside the tests",
        )
    result.result = "flaky" if s.flaky else "passed"
    if s.flaky and fail_on_flaky:
        names = [_title(f) for f in s.flaky_tests]
        raise CheckFailed(
            f"{s.flaky} of {s.total} test(s) passed only on a rerun and --fail-on-flaky is set ({counts}): "
            + "; ".join(names[:5])
            + (" ..." if len(names) > 5 else "")
        )
    ctx.console.success(f"suite {result.suite}: {result.message}")


def _title(test: dict[str, str]) -> str:
    return ".".join(p for p in (test.get("class"), test.get("name")) if p)


def _upload(location: S3Location, run_: SuiteRun, result: PostSyncTestResult, ctx: StepContext) -> None:
    from pipekit.reports import publish

    base = publish.folder(location, result.suite, result.environment, result.gitops_revision)
    summary = {
        "suite": result.suite,
        "environment": result.environment,
        "gitops_revision": result.gitops_revision,
        "namespace": result.namespace,
        "workloads": result.workloads,
        "ready_s": result.ready_s,
        "result": result.result,
        "message": result.message,
        "exit_code": run_.exit_code,
        "attempts": len(run_.attempts),
        "tests": run_.summary.to_record(),
    }
    try:
        result.summary_url, result.reports_url = publish.upload(location, base, run_.files, summary, ctx.env)
        ctx.console.info(f"results uploaded: {result.reports_url} (summary {result.summary_url})")
    except Exception as exc:  # noqa: BLE001 - the tests' verdict stands whatever the upload did; said, not hidden
        why = str(exc) if isinstance(exc, PipekitError) else f"{type(exc).__name__}: {exc}"
        ctx.console.warn(f"could not upload the results to {location.uri(base)}: {why}")
        result.message = (result.message + "; " if result.message else "") + f"upload failed: {why}"


def _card(
    result: PostSyncTestResult, ctx: StepContext, environment: str | None, fail_on_flaky: bool = False
) -> None:
    from pipekit.channels.delivery import NotifyOptions
    from pipekit.channels.delivery import send as notify

    passed = result.result == "passed" or (
        result.result == "flaky" and not fail_on_flaky
    )  # as the exit code says
    event = "succeeded" if passed else "failed"
    try:
        notify(
            NotifyOptions(
                event=event, stage="post-sync-test", message=result.message or None, environment=environment
            ),
            ctx,
        )
    except PipekitError as exc:
        ctx.console.warn(f"could not send the result card: {exc}")


def options_from(ctx: StepContext, flags: dict[str, Any]) -> PostSyncTestOptions:
    return resolve(PostSyncTestOptions, ctx, flags).options


@step_command(
    "post-sync-test",
    PostSyncTestOptions,
    help="Argo CD PostSync test Job: wait for real readiness, run the suite, "
    "read its JUnit report as its tool meant it, keep the results.",
)
def main(ctx: StepContext, flags: dict[str, Any]) -> PostSyncTestResult:
    return run(options_from(ctx, flags), ctx)


if __name__ == "__main__":
    main()
