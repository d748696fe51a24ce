"""One parser per option type: booleans, integers, numbers, choices, lists.

Every flag, environment variable and ``pipekit.yaml`` value goes through these, so
``PIPEKIT_MAVEN_OFFLINE=on`` and ``PIPEKIT_ECR_WAIT_SCAN=on`` mean the same thing. ``where``
names the value's source in the error (``flag --timeout``, ``environment variable
PIPEKIT_NOTIFY_TIMEOUT``, ``pipekit.yaml:12 (notify.timeout)``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from pipekit.core.errors import BadInput

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
_INT = re.compile(r"[-+]?\d+")


def parse_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise BadInput(f"{where}: {value!r} is not a boolean (expected one of 1/true/yes/on or 0/false/no/off)")


def _bounded(
    number: float,
    where: str,
    minimum: float | None,
    maximum: float | None,
    above: float | None = None,
    raw: Any = None,
) -> None:
    shown = repr(raw) if isinstance(raw, str) else f"{number:g}"
    if above is not None and number <= above:
        raise BadInput(f"{where}: {shown} is not a number more than {above:g}")
    if minimum is not None and number < minimum:
        raise BadInput(f"{where}: {shown} is below the minimum {minimum:g}")
    if maximum is not None and number > maximum:
        raise BadInput(f"{where}: {shown} is above the maximum {maximum:g}")


def parse_int(
    value: Any,
    where: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
) -> int:
    if isinstance(value, bool) or not (isinstance(value, int) or _INT.fullmatch(str(value).strip())):
        raise BadInput(f"{where}: {value!r} is not a whole number")
    number = int(str(value).strip()) if not isinstance(value, int) else value
    _bounded(number, where, minimum, maximum, above, value)
    return number


def parse_float(
    value: Any,
    where: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
) -> float:
    if isinstance(value, bool):
        raise BadInput(f"{where}: {value!r} is not a number")
    try:
        number = float(value if isinstance(value, (int, float)) else str(value).strip())
    except ValueError:
        raise BadInput(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise BadInput(f"{where}: {value!r} is not a finite number")
    _bounded(number, where, minimum, maximum, above, value)
    return number


def is_int_text(text: str) -> bool:
    return _INT.fullmatch(text.strip()) is not None


def parse_choice(value: Any, where: str, choices: Iterable[str]) -> str:
    allowed = tuple(choices)
    text = str(value).strip()
    if text not in allowed:
        raise BadInput(f"{where}: {value!r} is not one of {', '.join(allowed)}")
    return text


def parse_list(value: Any, where: str) -> tuple[str, ...]:
    """A comma-separated string, or a list (from a repeated flag or a YAML sequence)."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        items: list[str] = []
        for item in value:
            if isinstance(item, (dict, list)):
                raise BadInput(f"{where}: expected a list of strings, got {type(item).__name__} {item!r}")
            items.extend(p.strip() for p in str(item).split(",") if p.strip())
        return tuple(items)
    return tuple(p.strip() for p in str(value).split(",") if p.strip())
