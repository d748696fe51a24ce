"""The release notes a promotion commit carries: bounded, and no trailer read into them."""

from __future__ import annotations

import subprocess

from pipekit.gitops import trailers
from pipekit.gitops.writer import message
from pipekit.releases.model import CARRIES, UNKNOWN, ServiceChange, SourceCommit
from pipekit.releases.notes import MAX_LINES, NOTES_START, commit_body


def commits(n: int, service: str) -> list[SourceCommit]:
    return [
        SourceCommit(
            sha=f"{i:040x}",
            author="Alice",
            date="2026-11-02T10:00:00+00:00",
            subject=f"Pipekit-Tag: not a trailer {i} " + "x" * 150,
            jira=[f"ORD-{i}"] if i % 2 else [],
        )
        for i in range(n)
    ]


def test_notes_are_bounded_and_say_what_was_left_out() -> None:
    many = ServiceChange("orders", CARRIES, None, None, commits=commits(30, "orders"), total=45)
    few = ServiceChange("billing", CARRIES, None, None, commits=commits(2, "billing"), total=2)
    lost = ServiceChange("payments", UNKNOWN, None, None, note="no source repository for payments")
    lines = commit_body([many, few, lost])
    assert lines[0] == NOTES_START
    assert sum(1 for line in lines if line.startswith("  - ")) == MAX_LINES
    assert lines[1].startswith("orders: 45 commits - ORD-1 ORD-3") and lines[1].endswith("and 3 more")
    assert "  ... and 25 more" in lines  # 30 listed by the walk, 20 shown, 15 beyond the walk's limit
    assert "billing: 2 commits - ORD-1" in lines and "  ... and 2 more" in lines
    assert lines[-1] == "payments: no source repository for payments"
    assert all(len(line) <= 160 for line in lines)
    assert commit_body([ServiceChange("x", CARRIES, None, None)]) == []


def test_a_promotion_message_with_notes_keeps_its_trailers(tmp_path) -> None:
    lines = commit_body([ServiceChange("orders", CARRIES, None, None, commits=commits(3, "orders"), total=3)])
    pairs = [
        ("Pipekit-Environment", "prod"),
        ("Pipekit-Promoted-From", "qa"),
        ("Pipekit-Service", "orders"),
        ("Pipekit-Tag", "o3"),
    ]
    text = message("promote qa -> prod: orders o3", ["orders: o2 -> repo/orders:o3", "", *lines], pairs)
    parsed = subprocess.run(
        ["git", "interpret-trailers", "--parse"], input=text, capture_output=True, text=True, check=True
    ).stdout
    assert parsed.splitlines() == [f"{k}: {v}" for k, v in pairs]
    read = trailers.parse(text)
    assert (read.environment, read.promoted_from) == ("prod", "qa")
    assert [(g.service, g.tag) for g in read.groups] == [("orders", "o3")]
