"""The real test tools' JUnit reports, read by `pipekit post-sync-test` as a real process.

Each tool (the versions of tests/tools/junit/package-lock.json and pyproject's test extras, Maven
offline with Surefire 3.2.5) runs its suite of tests/tools/junit/suites/ against the SuiteAPI stand-in
once per session, as the suite command of `pipekit post-sync-test`. The tests check pipekit's counts,
failing names, flaky names and exit code against what each suite was written to do, and the quirks
of each tool's raw report that the reader's dialects rely on (so a tool bump that changes one shows up here).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipekit.reports.junit import find
from pipekit.reports.junit.parser import Report, parse
from pipekit.testing.serving import free_port
from pipekit.testing.suite_api import SuiteAPI
from tests.conftest import REPO_ROOT, run_pipekit

TOOLS = REPO_ROOT / "tests" / "tools" / "junit"
SUITES = TOOLS / "suites"
NODE_MODULES = REPO_ROOT / ".venv" / "junit-tools" / "node_modules"  # scripts/dev bootstrap: npm ci


@dataclass
class Run:
    proc: subprocess.CompletedProcess[str]
    result: dict
    record: dict
    reports: list[Path]
    workdir: Path

    def raw(self) -> list[Report]:
        return [parse(p) for p in self.reports]

    def names(self, key: str) -> set[str]:
        return {".".join(p for p in (t["class"], t["name"]) if p) for t in self.result["tests"][key]}


@pytest.fixture(scope="session")
def api() -> Iterator[SuiteAPI]:
    with SuiteAPI() as standin:
        yield standin


@pytest.fixture(scope="session")
def tool_env(api: SuiteAPI) -> dict[str, str]:
    bin_dir = NODE_MODULES / ".bin"
    assert (bin_dir / "jest").exists(), f"{NODE_MODULES}: run scripts/dev bootstrap (npm ci of {TOOLS})"
    return {
        "API_URL": api.url,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "NODE_PATH": str(NODE_MODULES),
        "NO_COLOR": "1",
        "CI": "1",
    }


def post_sync(
    tmp: Path,
    suite: str,
    env: dict[str, str],
    junit_dir: str,
    *command: str,
    flags: tuple[str, ...] = (),
    timeout: float = 180,
) -> Run:
    """Copy the suite into ``tmp`` and run it as post-sync-test's suite command there."""
    work = tmp / suite
    shutil.copytree(SUITES / suite, work)
    run_env = {
        "HOME": str(tmp),
        **env,
        "RUN_ID": uuid.uuid4().hex[:12],
        "PIPEKIT_RUN_RECORD": str(tmp / f"{suite}-run.json"),
    }
    proc = run_pipekit(
        "post-sync-test",
        "--json",
        "--suite",
        suite,
        "--junit-dir",
        str(work / junit_dir),
        *flags,
        "--",
        *command,
        env=run_env,
        cwd=work,
        timeout=timeout,
    )
    result = json.loads(proc.stdout) if proc.stdout.strip() else {}
    result = result.get("result", result) if "tests" not in result else result
    record = json.loads((tmp / f"{suite}-run.json").read_text())["steps"]["post_sync_test"]
    return Run(proc, result, record, find(work / junit_dir), work)


@pytest.fixture(scope="session")
def maven(tmp_path_factory: pytest.TempPathFactory, tool_env: dict[str, str]) -> Run:
    env = {**tool_env, "HOME": os.environ.get("HOME", "")}  # the machine's ~/.m2 (offline Maven)
    tmp = tmp_path_factory.mktemp("maven")
    run = post_sync(
        tmp,
        "maven",
        env,
        "target/surefire-reports",
        "mvn",
        "-o",
        "-B",
        "-q",
        "test",
        flags=("--rerun-failed", "2"),
        timeout=300,
    )
    return run


@pytest.fixture(scope="session")
def pytest_run(tmp_path_factory: pytest.TempPathFactory, tool_env: dict[str, str]) -> Run:
    return post_sync(
        tmp_path_factory.mktemp("pytest"),
        "pytest",
        tool_env,
        "results",
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--reruns",
        "1",
        "--junit-xml=results/junit.xml",
    )


@pytest.fixture(scope="session")
def jest(tmp_path_factory: pytest.TempPathFactory, tool_env: dict[str, str]) -> Run:
    return post_sync(
        tmp_path_factory.mktemp("jest"),
        "jest",
        {**tool_env, "JEST_JUNIT_OUTPUT_DIR": "results"},
        "results",
        "jest",
        "--ci",
        "--cacheDirectory",
        ".jest-cache",
    )


@pytest.fixture(scope="session")
def mocha(tmp_path_factory: pytest.TempPathFactory, tool_env: dict[str, str]) -> Run:
    return post_sync(
        tmp_path_factory.mktemp("mocha"),
        "mocha",
        {**tool_env, "MOCHA_FILE": "results/junit.xml"},
        "results",
        "mocha",
        "--reporter",
        "mocha-junit-reporter",
        "orders.spec.js",
    )


@pytest.fixture(scope="session")
def newman(tmp_path_factory: pytest.TempPathFactory, tool_env: dict[str, str]) -> Run:
    return post_sync(
        tmp_path_factory.mktemp("newman"),
        "newman",
        tool_env,
        "results",
        "newman",
        "run",
        "orders.postman_collection.json",
        "--env-var",
        f"api={tool_env['API_URL']}",
        "--env-var",
        f"payments=http://127.0.0.1:{free_port()}",
        "-r",
        "cli,junit",
        "--reporter-junit-export",
        "results/junit.xml",
    )


@pytest.fixture(scope="session")
def playwright(tmp_path_factory: pytest.TempPathFactory, tool_env: dict[str, str]) -> Run:
    return post_sync(
        tmp_path_factory.mktemp("playwright"), "playwright", tool_env, "results", "playwright", "test"
    )


@pytest.fixture(scope="session")
def cucumber(tmp_path_factory: pytest.TempPathFactory, tool_env: dict[str, str]) -> Run:
    return post_sync(
        tmp_path_factory.mktemp("cucumber"),
        "cucumber",
        tool_env,
        "results",
        "cucumber-js",
        "--require",
        "features/steps/*.js",
        "--format",
        "junit:results/junit.xml",
        "--format",
        "summary",
        "--retry",
        "1",
    )


def counts(run: Run) -> tuple[int, ...]:
    t = run.result["tests"]
    return t["total"], t["passed"], t["failed"], t["errored"], t["skipped"], t["flaky"]


def assert_gate(run: Run, dialect: str) -> None:
    """Failures fail the gate (exit 1) and say what failed; the record and --json hold the same tests."""
    assert run.proc.returncode == 1, run.proc.stderr[-3000:]
    assert run.result["result"] == "failed"
    assert run.result["tests"]["dialect"] == dialect
    assert run.record["outputs"]["tests"] == run.result["tests"]
    assert run.record["outputs"]["result"] == "failed"
    for name in run.names("failing"):
        assert name.split(".")[-1][:40] in run.proc.stderr or len(run.names("failing")) > 5
    for name in run.names("flaky_tests"):
        assert f"flaky: {name} passed only on a rerun" in run.proc.stderr


@pytest.mark.slow
def test_maven_surefire_with_reruns(maven: Run) -> None:
    assert_gate(maven, "surefire")
    assert "-Dsurefire.rerunFailingTestsCount=2" in maven.proc.stderr
    assert counts(maven) == (5, 2, 1, 1, 1, 1)
    assert maven.names("failing") == {
        "shop.OrdersApiTest.orderIsCancelled",
        "shop.OrdersApiTest.readsTheDatabase",
    }
    assert maven.names("flaky_tests") == {"shop.OrdersApiTest.flakyEndpointAnswers"}
    assert maven.result["tests"]["flaky_tests"][0]["message"] == "expected: <200> but was: <503>"
    # the facts: tests= counts the last rerun round only; skipped=0 beside a <skipped/> case
    (report,) = maven.raw()
    root = report.suites[0]
    assert len(report.cases) == 5 and int(root.attrs["tests"]) < 5
    assert root.attrs["skipped"] == "0" and root.skipped == 1
    assert {r.name for r in report.cases if r.reruns} == {
        "orderIsCancelled",
        "readsTheDatabase",
        "flakyEndpointAnswers",
    }


@pytest.mark.slow
def test_build_reads_the_same_surefire_reports_alike(maven: Run, tmp_path: Path) -> None:
    """The one reader serves build too: the same counts from the same files, and --fail-on-flaky."""
    proc = run_pipekit(
        "build",
        "--json",
        "--skip-maven",
        "--no-image",
        "--project-dir",
        str(maven.workdir),
        env={"PIPEKIT_RUN_RECORD": str(tmp_path / "run.json")},
        cwd=maven.workdir,
    )
    assert proc.returncode == 1, proc.stderr
    tests = json.loads((tmp_path / "run.json").read_text())["steps"]["build"]["outputs"]["tests"]
    assert {k: tests[k] for k in ("total", "passed", "failed", "errored", "skipped", "flaky")} == {
        k: maven.result["tests"][k] for k in ("total", "passed", "failed", "errored", "skipped", "flaky")
    }
    assert "flaky (passed on rerun): shop.OrdersApiTest.flakyEndpointAnswers" in proc.stderr


@pytest.mark.slow
def test_pytest_with_rerunfailures(pytest_run: Run) -> None:
    run = pytest_run
    assert_gate(run, "pytest")
    assert counts(run) == (6, 2, 1, 1, 2, 1)
    assert run.names("failing") == {
        "test_orders_api.test_order_is_cancelled",
        "test_orders_api.test_reads_the_database",
    }
    assert run.names("flaky_tests") == {"test_orders_api.test_flaky_endpoint_answers"}
    # the facts: a rerun is an extra, bare <testcase> of the same name before the final one;
    # tests= counts each test once; xfail is <skipped type="pytest.xfail">
    (report,) = run.raw()
    flaky = [c for c in report.cases if c.name == "test_flaky_endpoint_answers"]
    assert [c.outcome for c in flaky] == ["passed", "passed"] and not flaky[0].details
    cancelled = [c.outcome for c in report.cases if c.name == "test_order_is_cancelled"]
    assert cancelled == ["passed", "failed"]  # the rerun attempt's failure is not written
    assert int(report.suites[1].attrs["tests"]) == 6 and len(report.cases) == 9
    assert next(c for c in report.cases if c.name == "test_ships_an_order").kind == "pytest.xfail"


@pytest.mark.slow
def test_jest_with_jest_junit(jest: Run) -> None:
    run = jest
    assert_gate(run, "jest")
    # orders.test.js: 1 passed outside a describe, 1 failed (twice retried), 1 thrown (jest-junit has no
    # <error>: failed), 1 skipped, 1 todo (skipped), 1 flaky; broken.test.js: failed to load (errored)
    assert counts(run) == (7, 2, 2, 1, 2, 1)
    assert run.names("failing") == {
        "orders api order is cancelled",
        "orders api reads the database",
        "broken.test.js.Test suite failed to run",
    }
    assert run.names("flaky_tests") == {"orders api flaky endpoint answers"}
    assert "expect(received).toBe(expected)" in run.result["tests"]["flaky_tests"][0]["message"]
    broken = next(f for f in run.result["tests"]["failing"] if f["name"] == "Test suite failed to run")
    assert "Cannot find module './payments-client-that-does-not-exist'" in broken["message"]
    # the facts: todo is a bare case left out of tests=; the file whose first test is outside a describe is
    # suite "undefined"; the load failure is there because post-sync-test set reportTestSuiteErrors
    (report,) = run.raw()
    orders = next(s for s in report.suites if s.name == "undefined")
    assert int(orders.attrs["tests"]) == 5 and orders.tests == 6
    todo = next(c for c in report.cases if c.name.endswith("ships an order"))
    assert todo.props == {"invocations": "1", "status": "todo"}
    assert any(
        s.name == "broken.test.js" and int(s.attrs["tests"]) == 0 and s.tests == 2 for s in report.suites
    )


@pytest.mark.slow
def test_jest_junit_on_its_own_drops_the_broken_file_and_the_retries(
    tool_env: dict[str, str], tmp_path: Path
) -> None:
    """The facts, with pipekit's settings overridden: the file that failed to load is not in the report, a
    retried test and a todo look passed. The gate still fails on the failures it can see."""
    env = {
        **tool_env,
        "JEST_JUNIT_OUTPUT_DIR": "results",
        "JEST_JUNIT_REPORT_TEST_SUITE_ERRORS": "false",
        "JEST_JUNIT_TEST_CASE_PROPERTIES_DIR": str(tmp_path / "none"),
    }
    run = post_sync(tmp_path, "jest", env, "results", "jest", "--ci", "--cacheDirectory", ".jest-cache")
    assert run.proc.returncode == 1, run.proc.stderr[-2000:]
    assert counts(run) == (6, 3, 2, 0, 1, 0)
    (report,) = run.raw()
    assert [s.name for s in report.suites] == ["jest tests", "undefined"]


@pytest.mark.slow
def test_mocha_with_mocha_junit_reporter(mocha: Run) -> None:
    run = mocha
    assert_gate(run, "mocha")
    assert run.result["exit_code"] == 3  # mocha exits with the number of failures
    # 1 passed, 2 failed (the thrown TypeError too: the reporter has no <error>), the failed hook errored,
    # it.skip skipped (not written), the retried test passed (this.retries leaves no trace)
    assert counts(run) == (6, 2, 2, 1, 1, 0)
    assert run.names("failing") == {
        "orders api order is cancelled",
        "orders api reads the database",
        'payments api "before each" hook for "charges a card"',
    }
    (report,) = run.raw()
    assert report.suites[1].name == "Root Suite" and report.suites[1].tests == 0
    orders = next(s for s in report.suites if s.name == "orders api")
    assert int(orders.attrs["tests"]) == 5 and orders.tests == 4  # it.skip counted, not written
    assert report.root_attrs["skipped"] == "1"


@pytest.mark.slow
def test_newman_junit_reporter(newman: Run) -> None:
    run = newman
    assert_gate(run, "newman")
    # 5 passing assertions (pm.test.skip among them: written as passed), 1 failing, the refused request and
    # the broken test script as one errored case each
    assert counts(run) == (8, 5, 1, 2, 0, 0)
    assert run.names("failing") == {
        "Get order.order is cancelled",
        "Payments down.request failed",
        "Reads the database.test script failed",
    }
    messages = {f["name"]: f["message"] for f in run.result["tests"]["failing"]}
    assert messages["request failed"].startswith("RequestError: Error: connect ECONNREFUSED 127.0.0.1:")
    assert messages["test script failed"].startswith("testScriptError: Unexpected token")
    # the facts: the root's tests= counts test scripts run (4 requests), not the 6 cases; the errors are
    # only in errors= and <system-err>, on no case
    (report,) = run.raw()
    assert int(report.root_attrs["tests"]) == 4 and len(report.cases) == 6
    down = next(s for s in report.suites if s.name == "Payments down")
    assert down.tests == 0 and down.attrs["errors"] == "1" and "RequestError" in down.system_err
    assert not any(c.outcome == "errored" for c in report.cases)
    skipped = next(c for c in report.cases if c.name == "refunds an order")
    assert skipped.outcome == "passed"


@pytest.mark.slow
def test_playwright_junit_reporter(playwright: Run) -> None:
    run = playwright
    assert_gate(run, "playwright")
    assert counts(run) == (5, 2, 1, 1, 1, 1)
    assert run.names("failing") == {
        "orders.spec.js.orders api › order is cancelled",
        "orders.spec.js.orders api › reads the database",
    }
    assert run.names("flaky_tests") == {"orders.spec.js.orders api › flaky endpoint answers"}
    errored = next(f for f in run.result["tests"]["failing"] if f["name"].endswith("reads the database"))
    assert errored["message"] == "no database"
    # the facts: with retries included (post-sync-test sets PLAYWRIGHT_JUNIT_INCLUDE_RETRIES=1) they are
    # Surefire's elements; a thrown exception that is not an expect() is an <error>
    (report,) = run.raw()
    by = {c.name.split(" › ")[-1]: c for c in report.cases}
    assert by["reads the database"].outcome == "errored" and by["order is cancelled"].reruns == 1
    assert by["flaky endpoint answers"].flaky


@pytest.mark.slow
def test_playwright_without_retries_in_the_report_is_silently_green(
    tool_env: dict[str, str], tmp_path: Path
) -> None:
    """The fact: with includeRetries off, a test that passed on its retry is a plain passing case."""
    env = {**tool_env, "PLAYWRIGHT_JUNIT_INCLUDE_RETRIES": "0"}
    run = post_sync(tmp_path, "playwright", env, "results", "playwright", "test", "--grep", "flaky")
    assert run.proc.returncode == 0, run.proc.stderr[-2000:]
    (report,) = run.raw()
    assert [(c.outcome, c.flaky) for c in report.cases] == [("passed", False)]
    assert run.result["result"] == "passed"  # nothing in the report tells otherwise


@pytest.mark.slow
def test_cucumber_junit_formatter(cucumber: Run) -> None:
    run = cucumber
    assert_gate(run, "cucumber")
    # passed: health, the retried flaky scenario (--retry keeps the last attempt only), outline row 1;
    # failed: the assertion, the TypeError (no <error> in this formatter), the undefined step, outline row 2
    assert counts(run) == (8, 3, 4, 0, 1, 0)
    assert run.names("failing") == {
        "Orders API.Order is cancelled",
        "Orders API.Reads the database",
        "Orders API.Ships an order",
        "Orders API.Order lookups - known orders - #1.2",
    }
    undefined = next(f for f in run.result["tests"]["failing"] if f["name"] == "Ships an order")
    assert "undefined, pending or ambiguous" in undefined["message"]
    (report,) = run.raw()
    assert report.root == "testsuite" and int(report.root_attrs["tests"]) == len(report.cases) == 8


def test_cards_agree_with_the_gate(pytest_run: Run) -> None:
    """The card's summary comes from the same record the gate judged."""
    from pipekit.cards.model import tests_text

    text = tests_text(pytest_run.record["outputs"]["tests"])
    assert text.startswith("2 passed, 1 failed, 1 errored, 2 skipped, 1 flaky of 6")


@pytest.mark.slow
def test_jest_rerun_failed_reruns_the_failed_files(tool_env: dict[str, str], tmp_path: Path) -> None:
    env = {**tool_env, "JEST_JUNIT_OUTPUT_DIR": "results"}
    run = post_sync(
        tmp_path,
        "jest-rerun",
        env,
        "results",
        "jest",
        "--ci",
        "--cacheDirectory",
        ".jest-cache",
        flags=("--rerun-failed", "1"),
    )
    assert run.proc.returncode == 0, run.proc.stderr[-2000:]
    assert (
        "rerun 1 of the failed tests: jest --ci --cacheDirectory .jest-cache --onlyFailures"
        in run.proc.stderr
    )
    assert run.result["result"] == "flaky" and run.result["attempts"] == 2
    assert counts(run) == (2, 2, 0, 0, 0, 1)
    assert run.names("flaky_tests") == {"flaky endpoint answers"}
    assert "expect(received).toBe(expected)" in run.result["tests"]["flaky_tests"][0]["message"]
