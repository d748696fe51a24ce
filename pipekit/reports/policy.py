"""The gate's policy: fail-on threshold, per-severity maximum counts, SAST/SCA policies,
suppressions with an expiry date, and the baseline. Knows findings, not formats.

A finding blocks when it is active (not suppressed, not already in the baseline) and either its
severity has a maximum count (``max``) and more active findings of that kind and severity exist
than allowed, or it has none and the severity reaches ``fail_on``. ``sast:`` and ``sca:`` override
the top-level ``fail_on`` and ``max`` (per severity) for their kind.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput
from pipekit.reports import findings as fm

DEFAULT_FAIL_ON = "high"


@dataclass(frozen=True)
class Suppression:
    id: str
    reason: str
    expires: date
    glob: str | None = None
    where: str = ""  # file:line, for messages

    def expired(self, today: date) -> bool:
        return today > self.expires

    def glob_matches(self, f: fm.Finding) -> bool:
        if not self.glob:
            return True
        names = [f.path, f.package, f"{f.package}@{f.version}" if f.package else None, f.purl]
        return any(n and fnmatch.fnmatchcase(n, self.glob) for n in names)


@dataclass
class KindPolicy:
    fail_on: str | None  # None: no threshold
    max: dict[str, int] = field(default_factory=dict)


@dataclass
class Policy:
    fail_on: str | None = DEFAULT_FAIL_ON
    max: dict[str, int] = field(default_factory=dict)
    sast: dict[str, Any] = field(default_factory=dict)
    sca: dict[str, Any] = field(default_factory=dict)
    suppressions: list[Suppression] = field(default_factory=list)
    baseline: str | None = None

    def for_kind(self, kind: str) -> KindPolicy:
        own = self.sast if kind == fm.SAST else self.sca
        fail_on = own.get("fail_on", self.fail_on)
        return KindPolicy(None if fail_on in (None, "none") else fail_on, {**self.max, **own.get("max", {})})


@dataclass
class Verdict:
    passed: bool
    blocking: list[fm.Finding]
    suppressed: int
    baseline_known: int
    expired: list[Suppression]  # expired suppressions (each named once)
    expired_hits: list[tuple[Suppression, fm.Finding]]  # findings an expired suppression no longer hides
    reasons: list[str]  # why it blocked, one line each


class _Index:
    """Suppressions by upper-case id: a finding is checked against its own ids, not every suppression."""

    def __init__(self, suppressions: list[Suppression]) -> None:
        self.by_id: dict[str, list[Suppression]] = {}
        for s in suppressions:
            self.by_id.setdefault(s.id.upper(), []).append(s)

    def __bool__(self) -> bool:
        return bool(self.by_id)

    def find(self, f: fm.Finding) -> Suppression | None:
        for key in (f.fingerprint, *f.ids()):
            for s in self.by_id.get(key.upper(), ()):
                if s.glob_matches(f):
                    return s
        return None


def parse_max(text: str) -> dict[str, int]:
    """``high=0,medium=10`` -> ``{"high": 0, "medium": 10}``."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in fm.RANK or not value.strip().isdigit():
            raise BadInput(
                f"--max {text!r}: expected SEVERITY=COUNT[,...] with a severity of "
                f"{', '.join(fm.SEVERITIES)} and a whole number, got {part!r}"
            )
        out[name] = int(value)
    return out


def _date(value: Any, where: str, dotted: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadInput(f"{where}: {dotted}: expires {value!r} is not a date (use YYYY-MM-DD)") from None


def from_section(
    section: dict[str, Any], where: Callable[..., str], prefix: tuple[Any, ...] = ("scan",)
) -> Policy:
    """A policy from a validated ``scan`` section; ``where(*path)`` gives ``file:line`` for messages."""
    sups = []
    for i, raw in enumerate(section.get("suppressions") or []):
        loc = (*prefix, "suppressions", i)
        place = where(*loc)
        dotted = ".".join(str(p) for p in loc)
        for key in ("id", "reason", "expires"):  # the schema checks pipekit.yaml; --policy files too
            if not str(raw.get(key) or "").strip():
                raise BadInput(
                    f"{place}: {dotted}: suppression without {key!r}; every suppression needs an id, "
                    "a reason and an expiry date"
                )
        sups.append(
            Suppression(
                id=str(raw["id"]),
                reason=str(raw["reason"]),
                expires=_date(raw["expires"], where(*loc, "expires"), dotted),
                glob=raw.get("path"),
                where=place,
            )
        )
    fail_on = section.get("fail_on", DEFAULT_FAIL_ON)
    return Policy(
        fail_on=None if fail_on == "none" else fail_on,
        max=dict(section.get("max") or {}),
        sast=dict(section.get("sast") or {}),
        sca=dict(section.get("sca") or {}),
        suppressions=sups,
        baseline=section.get("baseline"),
    )


def load_file(path: str | Path) -> Policy:
    """A ``--policy`` YAML file: the ``scan`` section's keys, at the top or under ``scan:``."""
    import jsonschema

    from pipekit.core import config as config_mod

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{p}: cannot read policy: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{p}: not UTF-8 text (byte {exc.start}): save the policy as UTF-8") from None
    data, lines = config_mod.load_yaml_with_lines(text, str(p))
    data = data or {}
    if not isinstance(data, dict):
        raise BadInput(f"{p}:1: a policy file must be a mapping")
    prefix: tuple[Any, ...] = ()
    if set(data) == {"scan"}:
        data, prefix = data["scan"] or {}, ("scan",)
    root = config_mod.schema()
    scan_schema = {**root["properties"]["scan"], "$defs": root["$defs"]}
    data = config_mod.coerce(data, scan_schema, root)

    def where(*loc: Any) -> str:
        key = tuple(loc)
        while key and key not in lines:
            key = key[:-1]
        return f"{p}:{lines[key]}" if key in lines else str(p)

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(scan_schema).iter_errors(data))
    if error is not None:
        loc = (*prefix, *error.absolute_path)
        raise BadInput(f"{where(*loc)}: {'.'.join(str(x) for x in loc) or '(top level)'}: {error.message}")
    return from_section(data, where, prefix)


def apply(
    findings: Iterable[fm.Finding],
    policy: Policy,
    *,
    baseline: set[str] | None = None,
    today: date | None = None,
) -> Verdict:
    """Mark each finding's baseline state, suppression and blocking; say whether the gate passes."""
    with fm.gc_paused():
        return _apply(findings, policy, baseline=baseline, today=today or date.today())


def _apply(
    findings: Iterable[fm.Finding], policy: Policy, *, baseline: set[str] | None, today: date
) -> Verdict:
    live = _Index([s for s in policy.suppressions if not s.expired(today)])
    expired_list = [s for s in policy.suppressions if s.expired(today)]
    expired = _Index(expired_list)
    expired_hits: list[tuple[Suppression, fm.Finding]] = []
    active: list[fm.Finding] = []
    suppressed = known = 0
    for f in findings:  # judging again from scratch: apply() may run twice over the same findings
        f.blocking, f.suppressed_by = False, None
        f.baseline_state = None if baseline is None else ("unchanged" if f.fingerprint in baseline else "new")
        hit = live.find(f) if live else None
        if hit is not None:
            f.suppressed_by = hit.reason
        elif expired:
            old = expired.find(f)
            if old is not None:
                expired_hits.append((old, f))
        if f.suppressed:
            suppressed += 1
        elif f.baseline_state == "unchanged":
            known += 1
        else:
            active.append(f)
    counts = Counter((f.kind, f.severity) for f in active)
    kinds = {k: policy.for_kind(k) for k in (fm.SAST, fm.SCA)}
    blocking: list[fm.Finding] = []
    reasons: set[str] = set()
    for f in active:
        kp = kinds[f.kind]
        limit = kp.max.get(f.severity)
        if limit is not None:
            if counts[(f.kind, f.severity)] > limit:
                f.blocking = True
                reasons.add(
                    f"{counts[(f.kind, f.severity)]} {f.severity} {f.kind.upper()} findings, "
                    f"at most {limit} allowed"
                )
        elif kp.fail_on is not None and fm.at_least(f.severity, kp.fail_on):
            f.blocking = True
            reasons.add(f"{f.kind.upper()} findings at {kp.fail_on} or above block (fail_on: {kp.fail_on})")
        if f.blocking:
            blocking.append(f)
    blocking.sort(key=fm.sort_key)
    return Verdict(
        passed=not blocking,
        blocking=blocking,
        suppressed=suppressed,
        baseline_known=known,
        expired=expired_list,
        expired_hits=expired_hits,
        reasons=sorted(reasons),
    )
