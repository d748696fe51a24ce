"""JUnit XML for Bitbucket's test tab: one failing test case per blocking finding.

A gate that passes writes one passing test case, so the tab still shows the scan ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

from pipekit.reports import findings as fm
from pipekit.reports.writers.interface import FindingsWriter, GateOutcome


def _clean(text: str) -> str:
    return "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)


def render(blocking: Sequence[fm.Finding], *, total: int, reasons: Sequence[str] = ()) -> str:
    failures = len(blocking)
    tests = max(failures, 1)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="pipekit scan" tests="{tests}" failures="{failures}" errors="0">',
        f'  <testsuite name="security-gate" tests="{tests}" failures="{failures}" errors="0" skipped="0">',
    ]
    if not blocking:
        out.append(
            '    <testcase classname="security-gate" '
            f"name={quoteattr(f'gate passed ({total} findings checked)')}/>"
        )
    why = "; ".join(reasons)
    for f in blocking:
        name = _clean(f"[{f.severity.upper()}] {f.rule_id} {f.location}")
        message = _clean(f"{f.title} ({f.tool}{', fixed in ' + f.fixed_in if f.fixed_in else ''})")
        body = _clean(
            f"{f.severity} {f.kind.upper()} finding from {f.tool}: {f.title}\nlocation: {f.location}\n"
            f"fingerprint: {f.fingerprint}\nwhy it blocks: {why}"
        )
        from xml.sax.saxutils import escape

        out.append(f"    <testcase classname={quoteattr('security.' + f.tool)} name={quoteattr(name)}>")
        out.append(
            f"      <failure message={quoteattr(message)} "
            f"type={quoteattr(f.severity)}>{escape(body)}</failure>"
        )
        out.append("    </testcase>")
    out += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(out)


def write(
    path: str | Path, blocking: Sequence[fm.Finding], *, total: int, reasons: Sequence[str] = ()
) -> None:
    from pipekit.core.outfiles import atomic

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = render(blocking, total=total, reasons=reasons)
    with atomic(p, "w") as fh:
        fh.write(text)


class JunitWriter(FindingsWriter):
    name = "junit"

    def write(self, path: str | Path, outcome: GateOutcome) -> None:
        write(path, outcome.blocking, total=len(outcome.findings), reasons=outcome.reasons)


WRITER = JunitWriter()
