"""The pure judging logic: one Application JSON + expected revision -> verdict."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pipekit.argocd.state import (
    DEGRADED,
    FAILED,
    SUCCEEDED,
    WAITING,
    AppState,
    judge,
    parse_time,
    same_revision,
)
from pipekit.testing.argocd.apps import deep_merge

E = "5f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
OLD = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"

# What `GET /api/v1/applications/orders-dev` returns once revision E is deployed (trimmed).
DONE: dict[str, Any] = {
    "metadata": {"name": "orders-dev", "namespace": "argocd", "resourceVersion": "48213"},
    "spec": {
        "project": "default",
        "source": {
            "repoURL": "https://git.example.com/gitops.git",
            "path": "overlays/dev",
            "targetRevision": "HEAD",
        },
    },
    "status": {
        "sync": {"status": "Synced", "revision": E},
        "health": {"status": "Healthy"},
        "reconciledAt": "2026-11-26T10:00:07Z",
        "operationState": {
            "operation": {
                "sync": {"revision": E, "syncStrategy": {"hook": {}}},
                "initiatedBy": {"automated": True},
            },
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "startedAt": "2026-11-26T10:00:01Z",
            "finishedAt": "2026-11-26T10:00:06Z",
            "syncResult": {
                "revision": E,
                "resources": [
                    {
                        "group": "apps",
                        "version": "v1",
                        "kind": "Deployment",
                        "namespace": "orders",
                        "name": "orders",
                        "status": "Synced",
                        "message": "deployment.apps/orders configured",
                        "hookPhase": "Running",
                        "syncPhase": "Sync",
                    },
                    {
                        "group": "batch",
                        "version": "v1",
                        "kind": "Job",
                        "namespace": "orders",
                        "name": "smoke-test",
                        "status": "Synced",
                        "message": "Reached expected number of succeeded pods",
                        "hookType": "PostSync",
                        "hookPhase": "Succeeded",
                        "syncPhase": "PostSync",
                    },
                ],
            },
        },
    },
}


def app(patch: dict[str, Any] | None = None) -> dict[str, Any]:
    return deep_merge(DONE, patch or {})


def with_hook(phase: str, message: str = "") -> dict[str, Any]:
    a = app()
    hook = a["status"]["operationState"]["syncResult"]["resources"][1]
    hook["hookPhase"] = phase
    if message:
        hook["message"] = message
    return a


def test_all_conditions_hold_succeeds():
    v = judge(DONE, E)
    assert v.status == SUCCEEDED and v.missing == () and v.done


def test_abbreviated_expected_revision_matches():
    assert judge(DONE, E[:7]).status == SUCCEEDED
    assert judge(DONE, E[:6]).status == WAITING  # too short to be a SHA prefix
    assert same_revision(E, E.upper()[:10])
    assert not same_revision("", E)


def test_stale_revision_race_old_sync_still_synced_healthy():
    """Right after a push Argo CD still shows the old sync as Synced/Healthy: not success."""
    stale = app(
        {
            "status": {
                "sync": {"revision": OLD},
                "operationState": {"operation": {"sync": {"revision": OLD}}, "syncResult": {"revision": OLD}},
            }
        }
    )
    v = judge(stale, E)
    assert v.status == WAITING
    assert any("sync revision is 0a1b2c3, want 5f3c2a1" in m for m in v.missing)
    assert any("last sync operation was for 0a1b2c3" in m for m in v.missing)


def test_new_revision_seen_but_operation_still_old():
    v = judge(
        app(
            {
                "status": {
                    "sync": {"status": "OutOfSync"},
                    "operationState": {
                        "operation": {"sync": {"revision": OLD}},
                        "syncResult": {"revision": OLD},
                    },
                }
            }
        ),
        E,
    )
    assert v.status == WAITING
    assert "sync OutOfSync, want Synced" in v.missing


def test_postsync_hook_failed_on_synced_healthy_app_fails():
    a = with_hook("Failed", "Job has reached the specified backoff limit")
    a["status"]["operationState"]["phase"] = "Failed"
    a["status"]["operationState"]["message"] = "one or more synchronization tasks completed unsuccessfully"
    v = judge(a, E)
    assert v.status == FAILED
    assert "hook PostSync Job/smoke-test Failed: Job has reached the specified backoff limit" in v.reason
    assert [h.name for h in v.failed_hooks] == ["smoke-test"]
    hint = v.failed_hooks[0].log_hint("orders-dev")
    assert "kubectl logs job/smoke-test -n orders" in hint
    assert "argocd app logs orders-dev --kind Job --name smoke-test" in hint


def test_failed_hook_on_succeeded_phase_still_fails():
    v = judge(with_hook("Error", "pod crashed"), E)
    assert v.status == FAILED and "Error" in v.reason


def test_hook_still_running_waits():
    a = with_hook("Running")
    a["status"]["operationState"]["phase"] = "Running"
    v = judge(a, E)
    assert v.status == WAITING
    assert "hook PostSync Job/smoke-test Running, want Succeeded" in v.missing


def test_hook_phase_judged_only_where_hook_type_set():
    # the Deployment's hookPhase says Running, but it is no hook: it must not block success
    assert DONE["status"]["operationState"]["syncResult"]["resources"][0]["hookPhase"] == "Running"
    assert judge(DONE, E).status == SUCCEEDED


def test_retry_running_with_finished_at_is_not_the_end():
    a = app(
        {
            "status": {
                "operationState": {
                    "phase": "Running",
                    "retryCount": 2,
                    "message": "one or more objects failed to apply. Retrying attempt #2 at 10:00AM.",
                }
            }
        }
    )
    v = judge(a, E)
    assert v.status == WAITING
    assert any("retry #2" in m for m in v.missing)


@pytest.mark.parametrize("phase", ["Failed", "Error"])
def test_operation_for_expected_revision_failed(phase):
    a = app(
        {"status": {"operationState": {"phase": phase, "message": "ComparisonError: kustomize build failed"}}}
    )
    v = judge(a, E)
    assert v.status == FAILED
    assert f"ended {phase}: ComparisonError" in v.reason


def test_failed_operation_found_by_requested_revision_without_sync_result():
    a = app({"status": {"operationState": {"phase": "Error", "syncResult": None, "message": "rpc error"}}})
    assert judge(a, E).status == FAILED


def test_failed_operation_of_old_revision_is_not_a_failure_of_e():
    a = app(
        {
            "status": {
                "sync": {"revision": OLD},
                "operationState": {
                    "phase": "Failed",
                    "operation": {"sync": {"revision": OLD}},
                    "syncResult": {"revision": OLD},
                },
            }
        }
    )
    assert judge(a, E).status == WAITING


def test_failed_operation_with_a_new_pending_operation_waits():
    a = app({"operation": {"sync": {"revision": E}}, "status": {"operationState": {"phase": "Failed"}}})
    v = judge(a, E)
    assert v.status == WAITING and "an operation is still pending" in v.missing


def test_pending_operation_blocks_success():
    v = judge(app({"operation": {"sync": {"revision": E}, "initiatedBy": {"username": "admin"}}}), E)
    assert v.status == WAITING and v.missing == ("an operation is still pending",)


def test_reconciled_before_finished_waits():
    v = judge(app({"status": {"reconciledAt": "2026-11-26T10:00:05Z"}}), E)
    assert v.status == WAITING
    assert v.missing == ("reconciledAt 2026-11-26T10:00:05Z is before finishedAt 2026-11-26T10:00:06Z",)


def test_reconciled_equal_to_finished_is_enough():
    assert judge(app({"status": {"reconciledAt": "2026-11-26T10:00:06Z"}}), E).status == SUCCEEDED


def test_missing_reconciled_at_waits():
    a = app()
    del a["status"]["reconciledAt"]
    assert judge(a, E).status == WAITING


def test_succeeded_without_finished_at_waits():
    a = app()
    del a["status"]["operationState"]["finishedAt"]
    assert "operation has no finishedAt" in judge(a, E).missing


def test_no_operation_state_at_all_waits():
    a = app()
    del a["status"]["operationState"]
    v = judge(a, E)
    assert v.status == WAITING and "operation phase none, want Succeeded" in v.missing


def test_progressing_waits_with_message():
    v = judge(
        app({"status": {"health": {"status": "Progressing", "message": "Waiting for rollout to finish"}}}), E
    )
    assert v.status == WAITING
    assert "health Progressing: Waiting for rollout to finish, want Healthy" in v.missing


def test_degraded_at_expected_revision():
    v = judge(
        app(
            {
                "status": {
                    "health": {"status": "Degraded", "message": "Deployment exceeded its progress deadline"}
                }
            }
        ),
        E,
    )
    assert v.status == DEGRADED
    assert "progress deadline" in v.reason and not v.done


def test_degraded_at_old_revision_is_only_waiting():
    a = app({"status": {"sync": {"revision": OLD}, "health": {"status": "Degraded"}}})
    assert judge(a, E).status == WAITING


def test_multi_source_revisions():
    a = app()
    a["status"]["sync"] = {"status": "Synced", "revisions": [OLD, E]}
    a["status"]["operationState"]["syncResult"] = {"revisions": [OLD, E], "resources": []}
    a["status"]["operationState"]["operation"] = {"sync": {"revisions": [OLD, E]}}
    assert judge(a, E).status == SUCCEEDED


def test_unknown_and_empty_fields_never_crash():
    for weird in (
        {},
        {"status": None},
        {"status": {"operationState": {"syncResult": {"resources": [None, 3, "x"]}}}},
        {"metadata": [], "status": {"sync": "Synced", "health": 1}},
    ):
        v = judge(weird, E)
        assert v.status == WAITING and v.missing


def test_summary_shape_for_run_record():
    s = AppState.from_app(DONE).summary()
    assert set(s) == {"name", "sync", "health", "revision", "phase", "hooks"}
    assert s["hooks"] == [
        {
            "type": "PostSync",
            "kind": "Job",
            "name": "smoke-test",
            "namespace": "orders",
            "phase": "Succeeded",
            "message": "Reached expected number of succeeded pods",
        }
    ]


@pytest.mark.parametrize(
    "text", ["2026-11-26T10:00:06Z", "2026-11-26T10:00:06.123456789Z", "2026-11-26T11:00:06+01:00"]
)
def test_parse_time_rfc3339_forms(text):
    parsed = parse_time(text)
    assert parsed is not None and parsed.timestamp() == pytest.approx(
        parse_time("2026-11-26T10:00:06Z").timestamp(), abs=1
    )


def test_parse_time_garbage_is_none():
    assert parse_time("yesterday") is None and parse_time("") is None


def test_judge_does_not_modify_input():
    a = app()
    before = copy.deepcopy(a)
    judge(a, E)
    assert a == before
