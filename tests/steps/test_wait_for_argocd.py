"""wait_for_argocd.run against the Argo CD stand-in over real HTTP on 127.0.0.1 (short intervals)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipekit.clients.argocd import AppNotFound, AuthRejected
from pipekit.core.config import Config
from pipekit.core.console import Console
from pipekit.core.context import PipelineContext
from pipekit.core.errors import CheckFailed, ExternalError, TimedOut
from pipekit.core.runrecord import RunRecord
from pipekit.core.step import StepContext
from pipekit.testing.argocd import ArgoCDStandIn
from pipekit.wait_for_argocd import WaitOptions, run
from tests.conftest import self_signed_cert

E = "5f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
OLD = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
HOOK_RUNNING = [{"name": "smoke-test", "phase": "Running"}]
HOOK_OK = [
    {"name": "smoke-test", "phase": "Succeeded", "message": "Reached expected number of succeeded pods"}
]


def rollout(dt: float = 0.15) -> list[tuple[float, dict[str, Any]]]:
    """What an auto-synced app shows after a push to E."""
    return [
        (dt, {"revision": E, "sync": "OutOfSync"}),
        (dt, {"op_revision": E, "phase": "Running", "health": "Progressing", "hooks": []}),
        (dt, {"sync": "Synced", "health": "Healthy", "hooks": HOOK_RUNNING}),
        (dt, {"phase": "Succeeded", "hooks": HOOK_OK}),
    ]


@pytest.fixture
def argo(argocd_standin: ArgoCDStandIn) -> ArgoCDStandIn:
    argocd_standin.reset(users={"ci": "s3cret-pass"})
    return argocd_standin


@pytest.fixture
def out() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def ctx(tmp_path: Path, out: io.StringIO) -> StepContext:
    return StepContext(
        pipeline=PipelineContext.from_env({}, cwd=tmp_path),
        config=Config(),
        record=RunRecord.load(tmp_path / "run.json"),
        console=Console(stream=out),
        env={},
    )


def opts(argo: ArgoCDStandIn, apps: list[str] | None = None, **kw: Any) -> WaitOptions:
    # timeout, request_timeout and unreachable_after are ceilings that a wait which succeeds never reaches:
    # roomy, so a slow machine cannot fail it; the tests of those limits set them short themselves.
    base: dict[str, Any] = dict(
        apps=apps or ["orders-dev"],
        revision=E,
        server=argo.server,
        token=argo.token,
        plaintext=True,
        timeout=20.0,
        grace=1.0,
        poll_interval=0.3,
        request_timeout=5.0,
        unreachable_after=10.0,
        stream_idle_timeout=2.0,
        backoff=0.05,
    )
    base.update(kw)
    return WaitOptions(**base)


def until(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Wait for ``condition`` (checked every 10 ms) at most ``timeout`` seconds; its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def logins(argo: ArgoCDStandIn) -> int:
    return [p for _, p in list(argo.requests)].count("/api/v1/session")


@pytest.mark.slow
def test_waits_through_a_rollout_and_records_it(argo, ctx, out):
    argo.add_app("orders-dev", revision=OLD)
    argo.play("orders-dev", rollout())
    result = run(opts(argo), ctx)
    assert [a.verdict for a in result.apps] == ["succeeded"]
    assert result.apps[0].revision == E and result.apps[0].hooks[0]["phase"] == "Succeeded"
    assert ("orders-dev", "normal") in argo.refreshes  # asked for a refresh first
    record = RunRecord.load(ctx.record.path).step("wait_for_argocd")
    assert record["status"] == "succeeded"
    assert record["outputs"]["revision"] == E
    assert record["outputs"]["apps"][0] == {
        "name": "orders-dev",
        "sync": "Synced",
        "health": "Healthy",
        "revision": E,
        "phase": "Succeeded",
        "hooks": result.apps[0].hooks,
    }
    lines = out.getvalue().splitlines()
    assert any("orders-dev: sync=OutOfSync" in line for line in lines)  # one line per change
    assert lines[-1].startswith("OK: orders-dev synced, healthy and hooks passed at revision 5f3c2a1")


@pytest.mark.slow
def test_stale_revision_race_does_not_succeed_early(argo, ctx):
    """Right after the push the app still shows the old sync Synced/Healthy."""
    argo.add_app("orders-dev", revision=OLD)
    argo.play(
        "orders-dev",
        [
            (0.8, {"revision": E, "op_revision": E, "phase": "Running", "health": "Progressing"}),
            (0.2, {"phase": "Succeeded", "health": "Healthy"}),
        ],
    )
    started = time.monotonic()
    result = run(opts(argo), ctx)
    assert time.monotonic() - started >= 0.9
    assert result.apps[0].revision == E


@pytest.mark.slow
def test_stale_state_forever_times_out_with_what_is_missing(argo, ctx):
    argo.add_app("orders-dev", revision=OLD)
    with pytest.raises(TimedOut) as err:
        run(opts(argo, timeout=0.8), ctx)
    text = str(err.value)
    assert "timed out after 0.8s waiting for revision 5f3c2a1" in text
    assert "orders-dev (sync Synced, health Healthy, operation Succeeded)" in text
    assert "sync revision is 0a1b2c3, want 5f3c2a1" in text
    assert err.value.result.apps[0].verdict == "waiting"
    assert RunRecord.load(ctx.record.path).step("wait_for_argocd")["status"] == "timed-out"


@pytest.mark.slow
def test_reconciled_before_finished_is_not_success(argo, ctx):
    argo.add_app("orders-dev", revision=E, reconciled="before")
    argo.play("orders-dev", [(0.5, {"reconciled": "after"})])
    started = time.monotonic()
    run(opts(argo), ctx)
    assert time.monotonic() - started >= 0.45


@pytest.mark.slow
def test_postsync_hook_failure_on_synced_healthy_app(argo, ctx, out, capsys):
    argo.add_app("orders-dev", revision=OLD)
    argo.play(
        "orders-dev",
        rollout()[:3]
        + [
            (
                0.15,
                {
                    "phase": "Failed",
                    "message": "one or more synchronization tasks completed unsuccessfully",
                    "hooks": [
                        {
                            "name": "smoke-test",
                            "phase": "Failed",
                            "message": "Job has reached the specified backoff limit",
                        }
                    ],
                },
            )
        ],
    )
    with pytest.raises(CheckFailed) as err:
        run(opts(argo), ctx)
    assert "hook PostSync Job/smoke-test Failed: Job has reached the specified backoff limit" in str(
        err.value
    )
    assert "kubectl logs job/smoke-test -n orders-dev" in str(err.value)
    shown = out.getvalue() + capsys.readouterr().err
    assert "hook PostSync Job 'smoke-test' in namespace orders-dev Failed" in shown
    assert "argocd app logs orders-dev --kind Job --name smoke-test" in shown
    assert err.value.result.apps[0].health == "Healthy" and err.value.result.apps[0].sync == "Synced"


@pytest.mark.slow
def test_retries_pass_through_running(argo, ctx):
    argo.add_app("orders-dev", revision=OLD)
    argo.play(
        "orders-dev",
        [
            (
                0.1,
                {
                    "revision": E,
                    "op_revision": E,
                    "phase": "Running",
                    "sync": "OutOfSync",
                    "health": "Progressing",
                },
            ),
            (
                0.2,
                {
                    "retry_count": 1,
                    "message": "one or more objects failed to apply. Retrying attempt #1 at 10:00AM.",
                },
            ),
            (0.3, {"retry_count": 2, "message": "Retrying attempt #2 at 10:00AM."}),
            (
                0.3,
                {
                    "phase": "Succeeded",
                    "sync": "Synced",
                    "health": "Healthy",
                    "message": "successfully synced",
                },
            ),
        ],
    )
    result = run(opts(argo), ctx)
    assert result.apps[0].verdict == "succeeded"


def test_operation_failed_for_revision_fails_fast(argo, ctx):
    argo.add_app("orders-dev", revision=OLD)
    argo.play(
        "orders-dev",
        [
            (0.1, {"revision": E, "op_revision": E, "phase": "Running", "sync": "OutOfSync"}),
            (0.1, {"phase": "Error", "message": "ComparisonError: kustomize build failed"}),
        ],
    )
    started = time.monotonic()
    with pytest.raises(CheckFailed, match="ended Error: ComparisonError"):
        run(opts(argo, timeout=10), ctx)
    assert time.monotonic() - started < 5  # at the failure (0.2 s in), not at the timeout


@pytest.mark.slow
def test_degraded_then_recovered_within_grace(argo, ctx):
    argo.add_app(
        "orders-dev",
        revision=E,
        health="Degraded",
        health_message="Deployment exceeded its progress deadline",
    )
    argo.play("orders-dev", [(0.5, {"health": "Healthy", "health_message": ""})])
    result = run(opts(argo, grace=5.0), ctx)
    assert result.apps[0].health == "Healthy"


@pytest.mark.slow
def test_degraded_past_grace_fails(argo, ctx):
    argo.add_app(
        "orders-dev",
        revision=E,
        health="Degraded",
        health_message="Deployment exceeded its progress deadline",
    )
    started = time.monotonic()
    with pytest.raises(CheckFailed, match=r"stayed Degraded for 0.6s .*progress deadline"):
        run(opts(argo, grace=0.6), ctx)
    assert 0.55 <= time.monotonic() - started < 4  # at the grace's end, not at the timeout


@pytest.mark.slow
def test_bearer_token_expiring_mid_wait_is_bad_input(argo, ctx):
    argo.add_app("orders-dev", revision=OLD)
    argo.play("orders-dev", rollout(0.5))
    argo.expire_tokens(after=0.4)
    with pytest.raises(AuthRejected) as err:
        run(opts(argo), ctx)
    assert err.value.exit_code == 2
    assert "rejected ARGOCD_AUTH_TOKEN (HTTP 401" in str(err.value) and argo.token not in str(err.value)


@pytest.mark.slow
def test_session_token_expiring_mid_wait_logs_in_again(argo, ctx):
    argo.faults.token_ttl = 1.5  # every session token, the first and the one logged in again for
    argo.add_app("orders-dev", revision=OLD)
    steps = rollout(0.2)

    def scenario() -> (
        None
    ):  # the rollout ends only after the first token expired and the wait logged in again
        for delay, patch in steps[:2]:
            time.sleep(delay)
            argo.set_state("orders-dev", **patch)
        if until(lambda: logins(argo) >= 2, timeout=30):
            argo.play("orders-dev", [(0.05, patch) for _, patch in steps[2:]])

    threading.Thread(target=scenario, daemon=True).start()
    result = run(opts(argo, token=None, username="ci", password="s3cret-pass"), ctx)
    assert result.apps[0].verdict == "succeeded"
    assert logins(argo) == 2  # the first login and exactly one re-login


@pytest.mark.slow
def test_dropped_stream_reconnects(argo, ctx):
    argo.faults.drop_stream_after = 1  # every stream is cut after its first event
    argo.add_app("orders-dev", revision=OLD)
    argo.play("orders-dev", rollout(0.2))
    result = run(opts(argo, poll_interval=30), ctx)  # no help from polling: only the stream can tell
    assert result.apps[0].verdict == "succeeded"
    streams = [p for m, p in argo.requests if p.startswith("/api/v1/stream/applications")]
    assert len(streams) >= 3


@pytest.mark.slow
def test_stream_stalls_polling_still_sees_success(argo, ctx):
    argo.faults.stall, argo.faults.stall_streams_only = True, True
    argo.add_app("orders-dev", revision=OLD)
    argo.play("orders-dev", rollout(0.1))
    assert run(opts(argo, poll_interval=0.2), ctx).apps[0].verdict == "succeeded"


def test_without_stream_polling_alone(argo, ctx):
    argo.add_app("orders-dev", revision=OLD)
    argo.play("orders-dev", rollout(0.1))
    run(opts(argo, stream=False, poll_interval=0.2), ctx)
    assert not any(p.startswith("/api/v1/stream/") for _, p in argo.requests)


@pytest.mark.slow
def test_server_that_never_answers_is_exit_3(argo, ctx):
    argo.add_app("orders-dev", revision=OLD)
    argo.faults.stall = True
    started = time.monotonic()
    with pytest.raises(ExternalError) as err:
        run(opts(argo, request_timeout=0.3, unreachable_after=1.0, timeout=10), ctx)
    assert err.value.exit_code == 3 and "failed after retries" in str(err.value)
    assert time.monotonic() - started < 5


@pytest.mark.slow
def test_server_stalling_mid_wait_is_exit_3(argo, ctx):
    argo.add_app("orders-dev", revision=OLD)

    def stall_once_watching() -> None:  # the first read answered, the watch under way: then no more answers
        until(lambda: any(p.startswith("/api/v1/stream/") for _, p in list(argo.requests)))
        argo.faults.stall = True

    threading.Thread(target=stall_once_watching, daemon=True).start()
    with pytest.raises(ExternalError, match=r"unreachable for 1s"):
        run(opts(argo, request_timeout=0.3, unreachable_after=1.0, poll_interval=0.2, timeout=10), ctx)


def test_502s_are_retried(argo, ctx):
    argo.add_app("orders-dev", revision=E)
    argo.faults.fail_next = 2
    assert run(opts(argo), ctx).apps[0].verdict == "succeeded"


def test_connection_resets_are_retried(argo, ctx):
    argo.add_app("orders-dev", revision=OLD)
    argo.faults.reset_next = 2
    argo.play("orders-dev", rollout(0.1))
    assert run(opts(argo), ctx).apps[0].verdict == "succeeded"


def test_unknown_app_names_both_possibilities(argo, ctx):
    with pytest.raises(AppNotFound) as err:
        run(opts(argo, apps=["ordres-dev"]), ctx)
    text = str(err.value)
    assert err.value.exit_code == 1
    assert "'ordres-dev'" in text and "HTTP 403" in text
    assert "does not exist, or this account may not read it" in text


def test_unknown_app_with_project_is_404(argo, ctx):
    with pytest.raises(AppNotFound, match=r"'ordres-dev' not found in project 'payments' \(HTTP 404"):
        run(opts(argo, apps=["ordres-dev"], project="payments"), ctx)


def test_sync_requested_at_the_revision(argo, ctx):
    from pipekit.testing.argocd import scenario

    scenario.apply(
        argo,
        {
            "apps": {
                "orders-dev": {
                    "initial": {"revision": E, "sync": "OutOfSync", "auto_sync": False, "op_revision": OLD},
                    "start": "sync",
                    "steps": [
                        [0.1, {"op_revision": E, "phase": "Running"}],
                        [0.1, {"phase": "Succeeded", "sync": "Synced"}],
                    ],
                }
            }
        },
    )
    run(opts(argo, sync=True), ctx)
    assert argo.sync_requests[0]["revision"] == E and argo.sync_requests[0]["name"] == "orders-dev"


@pytest.mark.slow
def test_several_apps_wait_together(argo, ctx, out):
    argo.add_app("orders-dev", revision=OLD)
    argo.add_app("orders-dev-db", revision=OLD)
    argo.play("orders-dev", rollout(0.1))
    argo.play("orders-dev-db", rollout(0.25))
    result = run(opts(argo, apps=["orders-dev", "orders-dev-db"]), ctx)
    assert [a.verdict for a in result.apps] == ["succeeded", "succeeded"]
    text = out.getvalue()
    assert "orders-dev-db: sync=Synced health=Healthy revision=5f3c2a1 operation=Succeeded" in text


def test_one_failing_app_among_several_fails(argo, ctx):
    argo.add_app("a", revision=E)
    argo.add_app("b", revision=OLD)
    argo.play("b", [(0.2, {"revision": E, "op_revision": E, "phase": "Failed", "message": "boom"})])
    with pytest.raises(
        CheckFailed, match=r"app 'b' at revision 5f3c2a1: sync operation .* ended Failed: boom"
    ):
        run(opts(argo, apps=["a", "b"]), ctx)


def test_root_path_and_full_url(ctx):
    with ArgoCDStandIn(root_path="/argo-cd") as argo:
        argo.add_app("orders-dev", revision=E)
        assert run(opts(argo, root_path="/argo-cd"), ctx).apps[0].verdict == "succeeded"
        assert (
            run(opts(argo, server=f"http://127.0.0.1:{argo.port}/argo-cd", plaintext=False), ctx)
            .apps[0]
            .verdict
            == "succeeded"
        )


def test_threads_end_after_the_wait(argo, ctx):
    argo.add_app("orders-dev", revision=E)
    run(opts(argo), ctx)

    def left() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith(("argocd-stream", "argocd-poll"))]

    until(lambda: not left())
    assert left() == []


@pytest.mark.slow
def test_tls_needs_a_trusted_certificate_unless_insecure(tmp_path, ctx):
    with ArgoCDStandIn(tls=self_signed_cert(tmp_path)) as argo:
        argo.add_app("orders-dev", revision=E)
        with pytest.raises(ExternalError, match="SSLError"):
            run(opts(argo, plaintext=False, unreachable_after=1.0), ctx)
        assert run(opts(argo, plaintext=False, insecure=True), ctx).apps[0].verdict == "succeeded"


@pytest.mark.slow
def test_app_without_auto_sync_gets_a_warning_and_a_hint(argo, ctx, out):
    argo.add_app("orders-dev", revision=OLD, auto_sync=False)
    with pytest.raises(TimedOut) as err:
        run(opts(argo, timeout=0.5), ctx)
    assert "orders-dev has no automated sync policy" in out.getvalue()
    assert "orders-dev without automated sync: pass --sync" in str(err.value)


def test_app_deleted_while_waiting(argo, ctx):
    argo.add_app("orders-dev", revision=OLD)
    threading.Timer(0.4, argo.delete_app, args=("orders-dev",)).start()
    started = time.monotonic()
    with pytest.raises(AppNotFound, match="'orders-dev' was deleted while waiting"):
        run(opts(argo, poll_interval=30), ctx)
    assert time.monotonic() - started < 5  # from the stream: no poll comes within 30 s


def test_hard_refresh_and_no_refresh(argo, ctx):
    argo.add_app("orders-dev", revision=E)
    run(opts(argo, refresh="hard"), ctx)
    run(opts(argo, refresh=None), ctx)
    assert argo.refreshes == [("orders-dev", "hard")]


def test_a_promotion_after_the_update_tag_it_was_handed_waits_for_its_own_revision(ctx: StepContext) -> None:
    """A pipeline's promote step gets the run record of the deploy step before it (an artifact):
    the revision to wait for is the newer section's, promote's, not update-tag's."""
    from pipekit.wait_for_argocd import resolve_apps, resolve_revision

    ctx.record.steps.update(
        {
            "update_tag": {
                "status": "succeeded",
                "finished_at": "2026-12-06T03:55:36Z",
                "outputs": {"gitops_revision": "a" * 40, "environment": "dev"},
            },
            "promote": {
                "status": "succeeded",
                "finished_at": "2026-12-06T03:55:41Z",
                "outputs": {"gitops_revision": "b" * 40, "to": "qa"},
            },
        }
    )
    assert resolve_revision(None, ctx) == "b" * 40
    assert resolve_apps((), None, {"dev": "orders-dev", "qa": "orders-qa"}, ctx) == ["orders-qa"]
    ctx.record.steps["update_tag"]["finished_at"] = (
        "2026-12-06T04:00:00Z"  # a deploy after an earlier promotion
    )
    assert resolve_revision(None, ctx) == "a" * 40
