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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipekit.clients.kubeconfig import SERVICE_ACCOUNT
from pipekit.core.errors import BadInput, CheckFailed, PipekitError
from pipekit.core.masking import mask_url
from pipekit.core.options import Option, OptionTable
from pipekit.core.step import StepContext, step_command
from pipekit.reports.junit.dialects import NAMES as JUNIT_DIALECTS

if TYPE_CHECKING:
    from pipekit.clients.s3 import S3Location
    from pipekit.reports.suite_run import SuiteRun

OPTIONS = OptionTable([
    Option("wait_ready", "--wait-ready", multiple=True, env="PIPEKIT_WAIT_READY", config="post_sync_test.wait_ready",
           metavar="KIND/NAME", help="Workload to wait for (repeatable): deployment/NAME, statefulset/NAME, "
                                     "daemonset/NAME, pod/NAME."),
    Option("namespace", "--namespace", env="PIPEKIT_NAMESPACE", config="post_sync_test.namespace",
           help="Namespace of the workloads [default: the in-cluster namespace, the kubeconfig context's, default]."),
    Option("context", "--context", env="PIPEKIT_KUBE_CONTEXT", help="kubeconfig context (outside the cluster)."),
    Option("health_urls", "--health-url", multiple=True, env="PIPEKIT_HEALTH_URLS", config="post_sync_test.health_urls",
           metavar="URL", help="URL that must answer 2xx before the suite starts (repeatable)."),
    Option("ready_timeout", "--ready-timeout", type="float", default=300.0, minimum=0.0,
           env="PIPEKIT_READY_TIMEOUT", config="post_sync_test.ready_timeout", help="Seconds to wait for readiness."),
    Option("junit_dir", "--junit-dir", type="path", default="test-results", env="PIPEKIT_JUNIT_DIR",
           config="post_sync_test.junit_dir", help="Where the suite writes its JUnit XML."),
    Option("suite", "--suite", env="PIPEKIT_SUITE", config="post_sync_test.suite",
           help="Suite name on the card and in S3 [default: the service]."),
    Option("rerun_failed", "--rerun-failed", type="int", default=0, minimum=0, maximum=5, env="PIPEKIT_RERUN_FAILED",
           config="post_sync_test.rerun_failed", help="Rerun failed tests up to N times (Surefire, Playwright, pytest, jest)."),
    Option("fail_on_flaky", "--fail-on-flaky", type="bool", default=False, env="PIPEKIT_FAIL_ON_FLAKY",
           config="post_sync_test.fail_on_flaky", help="A test that passed only on a rerun fails the suite (exit 1)."),
    Option("junit_dialect", "--junit-dialect", type="choice", choices=JUNIT_DIALECTS, default="auto",
           env="PIPEKIT_JUNIT_DIALECT", config="post_sync_test.junit_dialect",
           help="The tool that wrote the JUnit XML [default: auto, detected per file]."),
    Option("upload", "--upload", env="PIPEKIT_TEST_RESULTS_S3", config="post_sync_test.upload", metavar="S3_URI",
           help="s3://bucket/prefix for the JUnit files and a summary JSON."),
    Option("environment", "--env", env=("PIPEKIT_ENV", "PIPEKIT_ENVIRONMENT"), help="Environment on the card."),
    Option("revision", "--revision", env=("PIPEKIT_GITOPS_REVISION", "ARGOCD_APP_REVISION"),
           help="GitOps revision on the card [default: the run record]."),
    Option("notify", "--notify", type="bool", default=False, env="PIPEKIT_POST_SYNC_NOTIFY",
           config="post_sync_test.notify", help="Send the result card through notify."),
    Option("watch", "--watch", type="bool", default=True, help="Watch the API (--no-watch: poll)."),
    Option("poll_interval", "--poll-interval", type="float", default=2.0, minimum=0.05, hidden=True),
    Option("command_timeout", "--command-timeout", type="float", minimum=1.0, help="Seconds the suite may run."),
    Option("service_account", "--service-account-dir", type="path", hidden=True, env="PIPEKIT_SERVICE_ACCOUNT_DIR",
           default=str(SERVICE_ACCOUNT)),
    Option("command", argument=True, multiple=True, metavar="-- COMMAND..."),
])


@dataclass
class PostSyncTestOptions:
    command: list[str]
    wait_ready: list[str] = field(default_factory=list)
    namespace: str | None = None
    context: str | None = None
    health_urls: list[str] = field(default_factory=list)
    ready_timeout: float = 300.0
    junit_dir: Path = Path("test-results")
    suite: str | None = None
    rerun_failed: int = 0
    fail_on_flaky: bool = False
    junit_dialect: str = "auto"
    upload: str | None = None
    environment: str | None = None
    revision: str | None = None
    notify: bool = False
    watch: bool = True
    poll_interval: float = 2.0
    command_timeout: float | None = None
    service_account: Path = SERVICE_ACCOUNT


@dataclass
class PostSyncTestResult:
    suite: str
    result: str  # passed | flaky | skipped | failed | command-failed | not-ready | bad-input | timed-out
    namespace: str | None = None
    workloads: list[str] = field(default_factory=list)
    ready_s: float | None = None
    exit_code: int | None = None
    attempts: int = 0
    tests: dict[str, Any] = field(default_factory=dict)
    summary_url: str | None = None
    reports_url: str | None = None
    message: str = ""


def run(options: PostSyncTestOptions, ctx: StepContext) -> PostSyncTestResult:
    from pipekit.core.outputs import PostSyncTestOutputs, UpdateTagOutputs
    from pipekit.kube.ready import wait_ready
    from pipekit.kube.targets import parse_all

    if not options.command and not options.health_urls:
        raise BadInput("no suite: pass its command after --, e.g. pipekit post-sync-test --wait-ready "
                       "deployment/orders -- mvn -o -B verify, or --health-url URL (a health check as the suite)")
    targets = parse_all(options.wait_ready)
    location = _location(options.upload)
    suite = options.suite or ctx.service or "tests"
    revision = options.revision or UpdateTagOutputs.read(ctx.record).gitops_revision
    result = PostSyncTestResult(suite=suite, result="failed", workloads=[str(t) for t in targets])
    out = PostSyncTestOutputs(suite=suite, environment=options.environment, gitops_revision=revision,
                              workloads=result.workloads)
    suite_run: SuiteRun | None = None
    try:
        with ctx.record.recording(PostSyncTestOutputs.SECTION) as outputs, \
                tempfile.TemporaryDirectory(prefix="pipekit-post-sync-") as scratch:
            try:
                started = time.monotonic()
                health_only = not options.command  # the health URLs are the suite, checked below
                result.namespace, idle = wait_ready(
                    ctx.env, targets, namespace=options.namespace, context=options.context,
                    service_account=options.service_account, timeout=options.ready_timeout,
                    health_urls=() if health_only else options.health_urls, watch=options.watch,
                    poll_interval=options.poll_interval, say=ctx.console.info)
                result.ready_s = round(time.monotonic() - started, 3)
                if targets and len(idle) == len(targets):
                    result.result = "skipped"
                    result.message = (f"nothing to test: {', '.join(idle)} scaled to 0 replicas "
                                      "(no image has reached this environment yet)")
                    ctx.console.success(result.message)
                    return result
                if targets or (options.health_urls and not health_only):
                    ctx.console.success(f"ready after {result.ready_s:g}s: " + ", ".join(
                        result.workloads + ([] if health_only else [mask_url(u) for u in options.health_urls])))
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
                        int(exc.exit_code), "not-ready" if waiting else "failed")
                raise
            finally:
                if suite_run is not None and location is not None:
                    _upload(location, suite_run, result, out, ctx)
                for name in ("namespace", "ready_s", "exit_code", "attempts", "result", "message", "summary_url",
                             "reports_url"):
                    setattr(out, name, getattr(result, name) if getattr(result, name) != "" else None)
                out.tests = result.tests or None
                out.write_to(outputs)
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

    run_ = run_suite(options.command, junit_dir, scratch / "kept", rerun=options.rerun_failed,
                     env=report_env(os.environ, scratch / "tools"), timeout=options.command_timeout,
                     stream=ctx.console.print, on_attempt=announce, dialect=options.junit_dialect)
    if run_.rerun_unsupported:
        ctx.console.warn(f"--rerun-failed {options.rerun_failed}: {options.command[0]} has no known way to rerun "
                         "only failed tests (Maven Surefire, Playwright, pytest and jest do); not rerun")
    return run_


def _health_suite(options: PostSyncTestOptions, suite: str, started: float, scratch: Path,
                  ctx: StepContext) -> SuiteRun:
    """The ``--health-url`` checks as a suite: one test case per URL, in JUnit, within ``--ready-timeout``."""
    from pipekit.reports.suite_run import health_suite

    ctx.console.info(f"health check (the suite): {', '.join(mask_url(u) for u in options.health_urls)}")
    return health_suite(options.health_urls, options.junit_dir, scratch / "kept", suite=suite,
                        deadline=started + options.ready_timeout, say=ctx.console.info)


def _judge(run_: SuiteRun, result: PostSyncTestResult, ctx: StepContext, fail_on_flaky: bool = False) -> None:
    """Believe the report: failures fail whatever the exit code; a failed command over a clean report fails too;
    flaky tests pass (result ``flaky``) unless ``fail_on_flaky``."""
    s = run_.summary
    result.exit_code, result.attempts, result.tests = run_.exit_code, len(run_.attempts), s.to_record()
    counts = f"{s.passed} passed, {s.failed} failed, {s.errored} errored, {s.skipped} skipped, {s.flaky} flaky"
    result.message = f"{s.total} tests: {counts}"
    for flaky in s.flaky_tests:
        ctx.console.warn(f"flaky: {_title(flaky)} passed only on a rerun"
                         + (f": {flaky['message']}" if flaky.get("message") else ""))
    if not s.ok:
        names = [_title(f) for f in s.failing]
        result.result = "failed"
        raise CheckFailed(f"{s.failed + s.errored} of {s.total} test(s) failed ({counts}; command exit "
                          f"{run_.exit_code}): " + "; ".join(names[:5]) + (" ..." if len(names) > 5 else ""))
    if run_.exit_code != 0:
        result.result = "command-failed"
        raise CheckFailed(f"the suite command exited {run_.exit_code} although its report has no failure ({counts})",
                          hint="read the command's output above: it failed outside the tests")
    result.result = "flaky" if s.flaky else "passed"
    if s.flaky and fail_on_flaky:
        names = [_title(f) for f in s.flaky_tests]
        raise CheckFailed(f"{s.flaky} of {s.total} test(s) passed only on a rerun and --fail-on-flaky is set ({counts}): "
                          + "; ".join(names[:5]) + (" ..." if len(names) > 5 else ""))
    ctx.console.success(f"suite {result.suite}: {result.message}")


def _title(test: dict[str, str]) -> str:
    return ".".join(p for p in (test.get("class"), test.get("name")) if p)


def _upload(location: S3Location, run_: SuiteRun, result: PostSyncTestResult, out: Any, ctx: StepContext) -> None:
    from pipekit.reports import publish

    base = publish.folder(location, result.suite, out.environment, out.gitops_revision)
    summary = {"suite": result.suite, "environment": out.environment, "gitops_revision": out.gitops_revision,
               "namespace": result.namespace, "workloads": result.workloads, "ready_s": result.ready_s,
               "result": result.result, "message": result.message, "exit_code": run_.exit_code,
               "attempts": len(run_.attempts), "tests": run_.summary.to_record()}
    try:
        result.summary_url, result.reports_url = publish.upload(location, base, run_.files, summary, ctx.env)
        ctx.console.info(f"results uploaded: {result.reports_url} (summary {result.summary_url})")
    except PipekitError as exc:  # the tests' verdict stands; the upload's failure is said, not hidden
        ctx.console.warn(f"could not upload the results to {location.uri(base)}: {exc}")
        result.message = (result.message + "; " if result.message else "") + f"upload failed: {exc}"


def _card(result: PostSyncTestResult, ctx: StepContext, environment: str | None, fail_on_flaky: bool = False) -> None:
    from pipekit.notify import NotifyOptions
    from pipekit.notify import run as notify

    passed = result.result == "passed" or (result.result == "flaky" and not fail_on_flaky)  # as the exit code says
    event = "succeeded" if passed else "failed"
    try:
        notify(NotifyOptions(event=event, stage="post-sync-test", message=result.message or None,
                             environment=environment), ctx)
    except PipekitError as exc:
        ctx.console.warn(f"could not send the result card: {exc}")


def options_from(ctx: StepContext, flags: dict[str, Any]) -> PostSyncTestOptions:
    v = OPTIONS.resolve(ctx, flags)
    return PostSyncTestOptions(
        command=list(v["command"] or ()), wait_ready=list(v["wait_ready"] or ()), namespace=v["namespace"],
        context=v["context"], health_urls=list(v["health_urls"] or ()), ready_timeout=v["ready_timeout"],
        junit_dir=Path(v["junit_dir"]), suite=v["suite"], rerun_failed=v["rerun_failed"], upload=v["upload"],
        fail_on_flaky=v["fail_on_flaky"], junit_dialect=v["junit_dialect"],
        environment=ctx.environment(v["environment"]), revision=v["revision"], notify=v["notify"], watch=v["watch"],
        poll_interval=v["poll_interval"], command_timeout=v["command_timeout"],
        service_account=Path(v["service_account"]),
    )


@step_command("post-sync-test", OPTIONS, help="Argo CD PostSync test Job: wait for real readiness, run the suite, "
                                               "read its JUnit report as its tool meant it, keep the results.")
def main(ctx: StepContext, flags: dict[str, Any]) -> PostSyncTestResult:
    return run(options_from(ctx, flags), ctx)


if __name__ == "__main__":
    main()
