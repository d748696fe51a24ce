"""The git history parser stays linear: a huge commit message costs what reading it costs
(issue 23, item 10)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipekit.clients.git_history import records
from pipekit.deployments import reader, source
from pipekit.deployments.layout import Layout
from tests.fixtures.gitops.history import History, at


def test_records_split_across_chunks_and_separators_cut_in_half() -> None:
    data = b"\x00Cone\x00Ctwo\x00C\x00Cthree"
    for size in (1, 2, 3, 5, 64):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        assert [r for r in records(chunks, b"\x00C") if r] == [b"one", b"two", b"three"]
    assert list(records([b"a\nb\n", b"c"], b"\n")) == [b"a", b"b", b"c"]


def test_a_40_mb_record_in_64_kb_chunks_is_linear() -> None:
    big = b"x" * (40 << 20)
    data = b"\x00Csmall\x00C" + big + b"\x00Ctail"
    chunks = [data[i : i + (1 << 16)] for i in range(0, len(data), 1 << 16)]
    started = time.perf_counter()
    got = list(records(chunks, b"\x00C"))
    took = time.perf_counter() - started
    assert [len(r) for r in got] == [0, 5, len(big), 4]
    # Quadratic joining (rest + chunk for each of 640 chunks) copies ~13 GB: 10 s and more.
    assert took < 2.0, f"{took:.2f} s for 40 MB"


@pytest.mark.slow
def test_history_reads_a_commit_with_a_40_mb_message(tmp_path: Path) -> None:
    h = History(tmp_path, ["orders"])
    h.deploy("orders", "prod", "v1", at(0))
    path = h._set_tag("orders", "prod", "v2")
    huge = (
        "orders: prod -> v2\n\n"
        + ("0123456789abcdef" * 64 + "\n") * 40_000
        + "\nPipekit-Service: orders\nPipekit-Environment: prod\nPipekit-Tag: v2\n"
    )
    assert len(huge) > 40_000_000
    big = h._commit(path, huge, at(1), None)
    bare = h.push()
    started = time.perf_counter()
    with source.open_repo(str(bare), "main", {}) as (git, rev):
        got = list(reader.read(git, Layout(), rev=rev))
    took = time.perf_counter() - started
    assert [(d.tag, d.commit) for d in got][-1] == ("v2", big)
    assert took < 8.0, f"history of a 40 MB message took {took:.1f} s"
