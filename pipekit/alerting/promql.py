"""Prometheus' small languages as pipekit writes them: durations, and the template functions the
alert annotations use, formatted the way Prometheus formats them (so a unit test can expect the
exact text)."""

from __future__ import annotations

import math
import re

# Prometheus' duration syntax (model.ParseDuration; the same pattern as the PrometheusRule CRD's).
DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
_UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)


def parse_duration(text: str) -> float | None:
    """Seconds of a Prometheus duration (``90s``, ``1h30m``, ``0``); None when Prometheus would refuse it."""
    if text == "0":
        return 0.0
    match = DURATION.fullmatch(text)
    if not text or match is None:
        return None
    return float(sum(int(part) * unit for part, unit in zip(match.groups(), _UNITS, strict=True) if part))


def duration(seconds: float) -> str:
    """A duration as Prometheus writes one (``1h30m``, ``45s``, ``0s``)."""
    left = round(seconds * 1000)
    if left == 0:
        return "0s"
    out = ""
    for unit, name in ((86400_000, "d"), (3600_000, "h"), (60_000, "m"), (1000, "s"), (1, "ms")):
        count, left = divmod(left, unit)
        if count:
            out += f"{count}{name}"
    return out


def go_g4(value: float) -> str:
    """Go's ``fmt.Sprintf("%.4g", v)`` (Python's ``%.4g`` agrees for finite values)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.4g}"


def humanize_percentage(value: float) -> str:
    return go_g4(value * 100) + "%"


def humanize_duration(value: float) -> str:
    """Prometheus' ``humanizeDuration``: ``1d 2h 3m 4s``, ``1m 15s``, ``1.5s``, ``975ms``."""
    if math.isnan(value) or math.isinf(value):
        return go_g4(value)
    if value == 0:
        return go_g4(value) + "s"
    if abs(value) >= 1:
        sign = "-" if value < 0 else ""
        v = abs(value)
        whole = int(v)
        seconds, minutes, hours, days = whole % 60, (whole // 60) % 60, (whole // 3600) % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{go_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix, value = p, value * 1000
    return f"{go_g4(value)}{prefix}s"


_TOKEN = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def expand(template: str, labels: dict[str, str], value: float) -> str:
    """What Prometheus makes of an annotation template, for the few forms pipekit's rules use:
    ``{{ $labels.x }}``, ``{{ $value | humanizePercentage }}``, ``{{ $value | humanizeDuration }}``
    and ``{{ printf "%.0f" $value }}``."""

    def one(match: re.Match[str]) -> str:
        token = match.group(1)
        if token.startswith("$labels."):
            return labels.get(token[len("$labels.") :], "")
        if token == "$value | humanizePercentage":
            return humanize_percentage(value)
        if token == "$value | humanizeDuration":
            return humanize_duration(value)
        if token == 'printf "%.0f" $value':
            return f"{value:.0f}"
        raise ValueError(f"template form pipekit does not expand: {{{{ {token} }}}}")

    return _TOKEN.sub(one, template)


def series_values(values: list[float | str | None]) -> str:
    """promtool's notation for samples at a fixed interval: runs of equal steps as ``a+bxn``,
    missing samples ``_``, the end of a series ``stale``."""
    out: list[str] = []
    n = len(values)
    i = 0
    while i < n:
        v = values[i]
        if v is None or isinstance(v, str):
            j = i + 1
            while j < n and values[j] == v:
                j += 1
            token = "_" if v is None else v
            out.append(f"_x{j - i}" if token == "_" and j - i > 1 else " ".join([token] * (j - i)))
            i = j
            continue
        j = i + 1
        nxt = values[j] if j < n else None
        if nxt is None or isinstance(nxt, str):
            out.append(number(v))
            i = j
            continue
        step = nxt - v
        j += 1
        while j < n:
            x = values[j]
            if x is None or isinstance(x, str) or x - values[j - 1] != step:  # type: ignore[operator]
                break
            j += 1
        count = j - i
        if not step:
            out.append(f"{number(v)}x{count - 1}")
        else:
            out.append(f"{number(v)}{_signed(step)}x{count - 1}")
        i = j
    return " ".join(out)


def _signed(step: float) -> str:
    return ("+" if step >= 0 else "-") + number(abs(step))


def number(value: float) -> str:
    """A sample value or threshold as plain text: ``3``, ``0.05``, ``1073741824``."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))
