"""`pipekit post-sync-test` as a real process: the Kubernetes stand-in, real pytest suites, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipekit.testing.argocd import ArgoCDStandIn
from pipekit.testing.kubernetes import KubernetesStandIn, Rollout
from pipekit.testing.kubernetes.__main__ import kubeconfig
from tests.conftest import run_pipekit

pytestmark = pytest.mark.slow  # real repositories, tools or stand-ins: seconds per test

NS = "shop"
REVISION = "0123456789abcdef0123456789abcdef01234567"
SUITE = """\
import os, pathlib, time
def test_health():
    pathlib.Path(os.environ["STARTED_FILE"]).write_text(repr(time.monotonic()))
def test_orders():
    assert os.environ.get("BREAK") != "orders", "orders total is wrong"
def test_flaky(tmp_path_factory):
    marker = pathlib.Path(os.environ["FLAKY_MARKER"])
    if os.environ.get("FLAKY") and not marker.exists():
        marker.write_text("failed once")
        raise AssertionError("first try fails")
"""


@pytest.fixture
def kube(kube_standin: KubernetesStandIn) -> KubernetesStandIn:
    return kube_standin


@pytest.fixture
def job(tmp_path: Path, kube: KubernetesStandIn) -> dict[str, str]:
    """The environment of the test Job: a kubeconfig for the stand-in, the suite in tmp."""
    config = tmp_path / "kubeconfig"
    config.write_text(json.dumps(kubeconfig(kube.url, kube.token, NS)))
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "test_api.py").write_text(SUITE)
    return {
        "KUBECONFIG": str(config),
        "HOME": str(tmp_path),
        "STARTED_FILE": str(tmp_path / "started"),
        "FLAKY_MARKER": str(tmp_path / "flaky-marker"),
        "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json"),
    }


def pytest_cmd(tmp_path: Path) -> list[str]:
    return [
        "--",
        sys.executable,
        "-m",
        "pytest",
        "-q",
        str(tmp_path / "suite"),
        f"--junit-xml={tmp_path / 'results' / 'junit.xml'}",
        "-o",
        f"cache_dir={tmp_path / '.pytest-cache'}",
    ]


def once_asked(kube: KubernetesStandIn) -> Callable[[], None]:
    """A scenario action holding the rest of the scenario until a client sent its first request."""

    def hold() -> None:
        deadline = time.monotonic() + 60
        while not kube.requests and time.monotonic() < deadline and not kube.stopping.wait(0.01):
            pass

    return hold


def post_sync(
    tmp_path: Path, env: dict[str, str], *flags: str, command: list[str] | None = None, timeout: float = 60
) -> tuple[subprocess.CompletedProcess[str], dict]:
    proc = run_pipekit(
        "post-sync-test",
        "--json",
        "--junit-dir",
        str(tmp_path / "results"),
        *flags,
        *(command if command is not None else pytest_cmd(tmp_path)),
        env=env,
        cwd=tmp_path,
        timeout=timeout,
    )
    try:
        payload = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except ValueError:
        payload = {}
    return proc, payload


def test_waits_for_the_rollout_then_runs_the_suite(
    tmp_path: Path, kube: KubernetesStandIn, job: dict[str, str]
) -> None:
    r = Rollout(kube, "orders", NS, replicas=2)
    (_, spec_change), *steps = r.steps(step=0.3, linger=1.0)
    spec_change()  # generation 2, not yet observed: not ready
    # the rest (about 3 s) once pipekit asks the API, however long it takes to start: it sees every state
    kube.play([(0.0, once_asked(kube)), *steps])
    proc, result = post_sync(tmp_path, job, "--wait-ready", "deployment/orders", "--suite", "api")
    assert proc.returncode == 0, proc.stderr
    assert result["result"] == "passed" and result["namespace"] == NS
    assert result["tests"]["total"] == 3 and result["tests"]["passed"] == 3
    assert r.completed_at is not None
    started = float((tmp_path / "started").read_text())
    assert started > r.completed_at  # the suite did not start while an old pod still terminated
    assert "old ReplicaSet still terminating" in proc.stderr
    assert kube.token not in proc.stdout + proc.stderr  # the bearer token is never printed
    record = json.loads((tmp_path / "run.json").read_text())["steps"]["post_sync_test"]
    assert record["status"] == "succeeded" and record["outputs"]["workloads"] == ["deployment/orders"]


def test_failed_tests_exit_1_whatever_the_exit_code(
    tmp_path: Path, kube: KubernetesStandIn, job: dict[str, str]
) -> None:
    proc, result = post_sync(tmp_path, {**job, "BREAK": "orders"})
    assert proc.returncode == 1
    assert "1 of 3 test(s) failed" in proc.stderr and "test_api.test_orders" in proc.stderr
    assert result["result"]["result"] == "failed"


def test_rerun_reports_flaky_never_silently_green(
    tmp_path: Path, kube: KubernetesStandIn, job: dict[str, str]
) -> None:
    proc, result = post_sync(tmp_path, {**job, "FLAKY": "1"}, "--rerun-failed", "2")
    assert proc.returncode == 0, proc.stderr
    assert result["result"] == "flaky" and result["attempts"] == 2
    assert result["tests"]["flaky"] == 1 and result["tests"]["flaky_tests"][0]["name"] == "test_flaky"
    assert (
        "--last-failed" in proc.stderr
        and "flaky: suite.test_api.test_flaky passed only on a rerun" in proc.stderr
    )
    record = json.loads((tmp_path / "run.json").read_text())["steps"]["post_sync_test"]
    assert record["status"] == "succeeded" and record["outputs"]["result"] == "flaky"
    assert record["outputs"]["tests"]["flaky_tests"] == result["tests"]["flaky_tests"]


def test_fail_on_flaky_fails_a_flaky_only_run(tmp_path: Path, job: dict[str, str]) -> None:
    proc, result = post_sync(tmp_path, {**job, "FLAKY": "1"}, "--rerun-failed", "1", "--fail-on-flaky")
    assert proc.returncode == 1, proc.stderr
    assert "1 of 3 test(s) passed only on a rerun and --fail-on-flaky is set" in proc.stderr
    assert "suite.test_api.test_flaky" in proc.stderr
    assert result["result"]["result"] == "flaky" and result["result"]["tests"]["flaky"] == 1


def test_command_failed_over_a_clean_report(tmp_path: Path, job: dict[str, str]) -> None:
    script = tmp_path / "suite.sh"
    script.write_text(
        f"{sys.executable} -m pytest -q {tmp_path / 'suite'} --junit-xml={tmp_path}/results/j.xml "
        f"-p no:cacheprovider\nexit 3\n"
    )
    proc, result = post_sync(tmp_path, job, command=["--", "sh", str(script)])
    assert proc.returncode == 1
    assert "the suite command exited 3 although its report has no failure" in proc.stderr


SUREFIRE = (
    '<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation='
    '"https://maven.apache.org/surefire/maven-surefire-plugin/xsd/surefire-test-report-3.0.xsd" '
    'name="s" tests="3"><testcase name="a"/></testsuite>'
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("pass", "the suite wrote no JUnit report (command exit 0)"),
        (
            "open(R + '/r.xml', 'w').write('<testsuite name=\"s\" tests=\"0\"></testsuite>')",
            "hold no test case",
        ),
        ("open(R + '/r.xml', 'w').write('<testsuites/>')", "hold no test case"),
        (
            f"open(R + '/TEST-s.xml', 'w').write({SUREFIRE!r})",
            "says tests=3 but holds 1 test case(s), which surefire",
        ),
        ("open(R + '/r.xml', 'w').write('Tests run: 3, Failures: 0')", "r.xml:1:1: unreadable test report"),
        (
            "open(R + '/r.xml', 'w').write('<!DOCTYPE t [<!ENTITY x SYSTEM "
            '"/etc/passwd">]><testsuite>&x;</testsuite>\')',
            "r.xml:1: a test report with a document type declaration (DTD) is refused",
        ),
    ],
)
def test_untrustworthy_reports_exit_2(tmp_path: Path, job: dict[str, str], body: str, message: str) -> None:
    code = f"R = {str(tmp_path / 'results')!r}\n{body}\n"
    proc, result = post_sync(tmp_path, job, command=["--", sys.executable, "-c", code])
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert result["result"]["result"] == "bad-input"


def test_junit_dialect_named_overrides_detection(tmp_path: Path, job: dict[str, str]) -> None:
    """A report that looks like Surefire's but is not:
    --junit-dialect generic reads its cases, counters aside."""
    code = f"open({str(tmp_path / 'results' / 'TEST-s.xml')!r}, 'w').write({SUREFIRE!r})"
    proc, result = post_sync(
        tmp_path, job, "--junit-dialect", "generic", command=["--", sys.executable, "-c", code]
    )
    assert proc.returncode == 0, proc.stderr
    assert result["tests"]["total"] == 1 and result["tests"]["dialect"] == "generic"
    proc, _ = post_sync(tmp_path, {**job, "PIPEKIT_JUNIT_DIALECT": "xunit"}, command=["--", "true"])
    assert proc.returncode == 2 and "PIPEKIT_JUNIT_DIALECT" in proc.stderr


def test_bad_input(tmp_path: Path, kube: KubernetesStandIn, job: dict[str, str]) -> None:
    proc, _ = post_sync(tmp_path, job, command=[])
    assert proc.returncode == 2 and "no suite: pass its command after --" in proc.stderr
    proc, _ = post_sync(tmp_path, job, "--wait-ready", "job/migrate")
    assert proc.returncode == 2 and "supported kinds: deployment (deploy), statefulset (sts)" in proc.stderr
    Rollout(kube, "orders", NS)
    proc, _ = post_sync(tmp_path, job, "--wait-ready", "deployment/payments")
    assert proc.returncode == 2 and "deployment/payments not found in namespace 'shop'" in proc.stderr
    sa = tmp_path / "sa"
    sa.mkdir()
    env = {**job, "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(kube.port)}
    proc, _ = post_sync(tmp_path, env, "--wait-ready", "deployment/orders", "--service-account-dir", str(sa))
    assert proc.returncode == 2 and f"{sa / 'token'}: cannot read the service-account token" in proc.stderr
    proc, _ = post_sync(
        tmp_path, {**job, "KUBECONFIG": str(tmp_path / "missing")}, "--wait-ready", "deploy/orders"
    )
    assert proc.returncode == 2 and f"{tmp_path / 'missing'}: cannot read the kubeconfig" in proc.stderr
    assert not (tmp_path / "started").exists()  # the suite never ran


def test_not_ready_in_time_exit_4_naming_the_condition(
    tmp_path: Path, kube: KubernetesStandIn, job: dict[str, str]
) -> None:
    for _, action in Rollout(kube, "orders", NS).steps(step=0, linger=60)[
        :-1
    ]:  # all but the last old pod gone
        action()
    proc, result = post_sync(tmp_path, job, "--wait-ready", "deployment/orders", "--ready-timeout", "1.5")
    assert proc.returncode == 4
    assert (
        "not ready after 1.5s: deployment/orders: Waiting for deployment 'orders': 1 pod(s) of an old "
        "ReplicaSet still terminating" in proc.stderr
    )
    assert result["result"]["result"] == "not-ready"
    assert not (tmp_path / "started").exists()


def test_image_pull_backoff_fails_fast(tmp_path: Path, kube: KubernetesStandIn, job: dict[str, str]) -> None:
    Rollout(kube, "orders", NS).start(
        step=0.05, waiting=("ImagePullBackOff", 'Back-off pulling image "app:2"')
    )
    proc, _ = post_sync(tmp_path, job, "--wait-ready", "deployment/orders", "--ready-timeout", "60")
    assert proc.returncode == 1
    assert "container 'app': ImagePullBackOff (Back-off pulling image" in proc.stderr


def test_health_url_must_answer_2xx(tmp_path: Path, job: dict[str, str]) -> None:
    from pipekit.testing.sink import WebhookSink

    with WebhookSink() as sink:  # answers POST only: a GET gets 501 until the timeout
        proc, _ = post_sync(tmp_path, job, "--health-url", f"{sink.base_url}/health", "--ready-timeout", "1")
    assert proc.returncode == 4 and "did not answer 2xx in time (last: HTTP 501)" in proc.stderr


def test_upload_to_s3_against_moto(tmp_path: Path, kube: KubernetesStandIn, job: dict[str, str]) -> None:
    from pipekit.testing.moto import MotoServer

    with MotoServer() as moto:
        s3 = moto.client("s3")
        s3.create_bucket(Bucket="test-results")
        env = {
            **job,
            **moto.aws_env(),
            "AWS_ENDPOINT_URL": "",
            "AWS_ENDPOINT_URL_S3": moto.url,
            "FLAKY": "1",
            "PIPEKIT_ENV": "dev",
            "PIPEKIT_GITOPS_REVISION": REVISION,
        }
        proc, result = post_sync(
            tmp_path, env, "--upload", "s3://test-results/post-sync", "--suite", "api", "--rerun-failed", "1"
        )
        assert proc.returncode == 0, proc.stderr
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="test-results")["Contents"])
        assert any(k.endswith("/junit/attempt-1/junit.xml") for k in keys)
        assert any(k.endswith("/junit/attempt-2/junit.xml") for k in keys)
        summary_key = next(k for k in keys if k.endswith("summary.json"))
        assert summary_key.startswith("post-sync/api/dev/") and "-0123456789ab/" in summary_key
        summary = json.loads(s3.get_object(Bucket="test-results", Key=summary_key)["Body"].read())
        assert summary["result"] == "flaky" and summary["tests"]["flaky"] == 1
        assert result["summary_url"] == f"{moto.url}/test-results/{summary_key}"
        assert result["reports_url"].startswith("s3://test-results/post-sync/api/dev/")
        # the pipeline's wait-for-argocd shows that summary when the PostSync hook failed
        with ArgoCDStandIn() as argo:
            argo.add_app(
                "orders-dev",
                revision=REVISION,
                phase="Failed",
                message="a hook failed",
                hooks=[
                    {
                        "name": "api-tests",
                        "type": "PostSync",
                        "phase": "Failed",
                        "message": "Job has reached the specified backoff limit",
                    }
                ],
            )
            proc = run_pipekit(
                "wait-for-argocd",
                "--app",
                "orders-dev",
                "--revision",
                REVISION,
                "--plaintext",
                "--timeout",
                "20",
                env={
                    **env,
                    "ARGOCD_SERVER": argo.server,
                    "ARGOCD_AUTH_TOKEN": argo.token,
                    "PIPEKIT_TEST_RESULTS_S3": "s3://test-results/post-sync",
                    "PIPEKIT_SUITE": "api",
                },
                cwd=tmp_path,
            )
        assert proc.returncode == 1, proc.stderr
        assert "PostSync tests api: flaky: 3 tests: 3 passed" in proc.stdout
        assert "  flaky: suite.test_api.test_flaky: AssertionError: first try fails" in proc.stdout
        assert f"  summary: {moto.url}/test-results/{summary_key}" in proc.stdout


@pytest.mark.slow
def test_maven_sample_service_tests_as_the_suite(tmp_path: Path, job: dict[str, str]) -> None:
    import shutil

    sample = Path(__file__).resolve().parents[2] / "pipekit" / "rehearsal" / "sample"
    project = tmp_path / "service"
    shutil.copytree(sample, project)
    reports = project / "target" / "surefire-reports"
    env = {**job, "HOME": os.environ.get("HOME", str(tmp_path))}  # the machine's ~/.m2 (offline Maven)
    proc = run_pipekit(
        "post-sync-test",
        "--json",
        "--junit-dir",
        str(reports),
        "--rerun-failed",
        "1",
        "--",
        "mvn",
        "-o",
        "-B",
        "-q",
        "test",
        env=env,
        cwd=project,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["tests"]["total"] >= 1 and result["tests"]["failed"] == 0
    assert "-Dsurefire.rerunFailingTestsCount=1" in proc.stderr


def test_card_through_notify_names_failing_and_flaky_tests(tmp_path: Path, job: dict[str, str]) -> None:
    from pipekit.testing.sink import WebhookSink

    with WebhookSink() as sink:
        env = {
            **job,
            "PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams"),
            "BREAK": "orders",
            "FLAKY": "1",
            "PIPEKIT_ENV": "qa",
            "PIPEKIT_GITOPS_REVISION": "feedc0ffee00",
        }
        proc, _ = post_sync(tmp_path, env, "--notify", "--suite", "api", "--rerun-failed", "1")
        assert proc.returncode == 1, proc.stderr
        card = json.dumps(sink.wait_for(1)[0].json).replace("\\\\_", "_")  # markdown-escaped underscores
    assert "Suite api" in card and "1 failed" in card and "1 flaky" in card
    assert "suite.test_api.test_orders: AssertionError: orders total is wrong" in card
    assert "Flaky tests (passed only on a rerun)" in card and "suite.test_api.test_flaky" in card
    assert "qa" in card and "post-sync-test" in card


def test_options_from_flags_env_and_pipekit_yaml(tmp_path: Path) -> None:
    from pipekit.core.errors import BadInput
    from pipekit.core.step import StepContext
    from pipekit.post_sync_test import options_from

    config = tmp_path / "pipekit.yaml"
    config.write_text(
        "service: orders\npost_sync_test:\n  wait_ready: [deployment/orders, sts/db]\n"
        "  ready_timeout: 120\n  junit_dir: target/surefire-reports\n  rerun_failed: 2\n"
        "  upload: s3://results/post-sync\n"
    )
    env = {"PIPEKIT_NAMESPACE": "orders-qa", "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json")}
    ctx = StepContext.create(config_path=config, env=env)
    o = options_from(ctx, {"command": ("mvn", "verify"), "rerun_failed": "1"})
    assert o.wait_ready == ["deployment/orders", "sts/db"] and o.namespace == "orders-qa"
    assert (o.ready_timeout, o.rerun_failed, o.upload) == (120.0, 1, "s3://results/post-sync")
    assert o.junit_dir == Path("target/surefire-reports") and o.command == ["mvn", "verify"]
    with pytest.raises(BadInput, match="rerun-failed"):
        options_from(ctx, {"rerun_failed": "9"})


def test_suite_that_outlives_command_timeout_exit_4(tmp_path: Path, job: dict[str, str]) -> None:
    proc, result = post_sync(
        tmp_path,
        job,
        "--command-timeout",
        "1",
        command=["--", sys.executable, "-c", "import time; time.sleep(30)"],
    )
    assert proc.returncode == 4 and "did not finish within 1 s" in proc.stderr
    assert result["result"]["result"] == "timed-out"


def test_the_card_agrees_with_the_gate_on_flaky_tests(tmp_path: Path, job: dict[str, str]) -> None:
    from pipekit.testing.sink import WebhookSink

    with WebhookSink() as sink:
        env = {**job, "PIPEKIT_TEAMS_WEBHOOK_URL": sink.url("teams"), "FLAKY": "1", "PIPEKIT_ENV": "qa"}
        proc, _ = post_sync(tmp_path, env, "--notify", "--suite", "api", "--rerun-failed", "1")
        assert proc.returncode == 0, proc.stderr
        (tmp_path / "flaky-marker").unlink()
        proc, _ = post_sync(
            tmp_path, env, "--notify", "--suite", "api", "--rerun-failed", "1", "--fail-on-flaky"
        )
        assert proc.returncode == 1, proc.stderr
        passed, failed = (r.json["attachments"][0]["content"]["body"] for r in sink.wait_for(2))
    assert passed[0]["style"] == "good" and failed[0]["style"] == "attention"
    for body in (passed, failed):
        text = json.dumps(body).replace("\\\\_", "_")
        assert "3 passed, 1 flaky of 3" in text and "suite.test_api.test_flaky" in text


@pytest.fixture
def health() -> Iterator[dict[str, int]]:
    """A service's readiness endpoint on 127.0.0.1: answers the status in the returned dict."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state = {"status": 200, "port": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(state["status"] if self.path == "/actuator/health/readiness" else 404)
            self.end_headers()
            self.wfile.write(b'{"status": "UP"}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["port"] = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def test_health_url_without_a_command_is_a_one_test_suite(
    tmp_path: Path, kube: KubernetesStandIn, job: dict[str, str], health: dict[str, int]
) -> None:
    """init's default PostSync Job: no suite command, the readiness endpoint is the suite
    (issue 21 item 5)."""
    Rollout(kube, "orders", NS, replicas=2)
    url = f"http://127.0.0.1:{health['port']}/actuator/health/readiness"
    proc, result = post_sync(
        tmp_path, job, "--wait-ready", "deployment/orders", "--health-url", url, command=[]
    )
    assert proc.returncode == 0, proc.stderr
    assert result["result"] == "passed" and result["tests"]["total"] == 1 and result["tests"]["passed"] == 1
    junit = (tmp_path / "results" / "health.xml").read_text()
    assert 'tests="1"' in junit and f"answers 2xx: http://127.0.0.1:{health['port']}/actuator" in junit

    health["status"] = 503
    proc, result = post_sync(
        tmp_path,
        job,
        "--wait-ready",
        "deployment/orders",
        "--health-url",
        url,
        "--ready-timeout",
        "2",
        command=[],
    )
    assert proc.returncode == 1, proc.stderr  # the one test failed
    assert (
        "1 of 1 test(s) failed" in proc.stderr
        and "HTTP 503" in (tmp_path / "results" / "health.xml").read_text()
    )


def test_a_workload_scaled_to_zero_has_nothing_to_test(
    tmp_path: Path, kube: KubernetesStandIn, job: dict[str, str]
) -> None:
    """An environment no image has reached yet (init's overlay holds it at 0 replicas): passed,
    said so (item 10)."""
    Rollout(kube, "orders", NS, replicas=0)
    proc, result = post_sync(
        tmp_path,
        job,
        "--wait-ready",
        "deployment/orders",
        "--health-url",
        "http://127.0.0.1:9/never",
        command=[],
    )
    assert proc.returncode == 0, proc.stderr
    assert result["result"] == "skipped"
    assert "nothing to test: deployment/orders scaled to 0 replicas" in proc.stderr
