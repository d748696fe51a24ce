"""One retry policy: every client waits by pipekit.core.retry and knows one list of retryable statuses."""

from __future__ import annotations

import re
from pathlib import Path

from pipekit.core import retry

PIPEKIT = Path(__file__).resolve().parents[2] / "pipekit"


def test_server_asked_waits_match_header_names_in_any_case() -> None:
    assert (
        retry.wait_before(1, 0.5, 10.0, {"retry-after": "2"}) == 2.0
    )  # the webhook client's lower-case headers
    assert retry.wait_before(1, 0.5, 10.0, {"Retry-After": "30"}) == 10.0  # capped
    assert retry.wait_before(1, 0.5, 10.0, {"x-ratelimit-reset": "3"}) == 3.0
    assert 0.0 <= retry.wait_before(3, 0.5, 10.0, {}) <= 2.0  # full jitter below base * 2**(n-1)


def test_no_client_keeps_its_own_backoff_or_status_list() -> None:
    own = []
    for path in PIPEKIT.rglob("*.py"):
        if path == PIPEKIT / "core" / "retry.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"random\.uniform|\b2 \*\* |\{\s*429\s*,|wait_exponential|wait_random", text):
            own.append(str(path.relative_to(PIPEKIT)))
    assert not own, f"wait by pipekit.core.retry: {own}"
