"""The little JQL the Jira stand-in understands: ``AND``-joined clauses and ``ORDER BY``.

Clauses: ``field = value``, ``field != value``, ``field in (a, b)``, ``field not in (...)``,
``field is EMPTY`` / ``is not EMPTY``, ``summary ~ text``; fields ``project``, ``fixVersion``,
``status``, ``key``, ``assignee``, ``summary``. Values are bare words or quoted with ``"`` or ``'``
(backslash escapes). Parentheses around clauses are accepted (with ``AND`` only they change
nothing). Anything else is a :class:`JqlError` with a Jira-like message (the stand-in answers 400).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>!=|=|~|\(|\)|,)|(?P<word>[^\s=!~(),"']+))"""
)
FIELDS = ("project", "fixversion", "status", "key", "assignee", "summary")

Record = Mapping[str, object]  # field (lower case) -> str, None, or a list of str (fixVersion)
Predicate = Callable[[Record], bool]


class JqlError(ValueError):
    pass


@dataclass
class Query:
    match: Predicate
    order_by: str | None = None
    keys: tuple[str, ...] = ()  # issue keys named by ``key = X`` / ``key in (...)``: Jira checks they exist


def _tokens(jql: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(jql):
        if not jql[pos:].strip():
            break
        m = _TOKEN.match(jql, pos)
        if not m or m.end() == pos:
            raise JqlError(f"Error in the JQL Query: the character {jql[pos]!r} is a reserved JQL character.")
        pos = m.end()
        if m.group("str"):
            raw = m.group("str")[1:-1]
            out.append(("value", re.sub(r"\\(.)", r"\1", raw)))
        elif m.group("op"):
            out.append(("op", m.group("op")))
        else:
            out.append(("word", m.group("word")))
    return out


def parse(jql: str) -> Query:
    tokens = _tokens(jql)
    order_by = None
    for i in range(len(tokens) - 1):
        if tokens[i][0] == "word" and tokens[i][1].upper() == "ORDER" and tokens[i + 1][1].upper() == "BY":
            order_by = " ".join(t[1] for t in tokens[i + 2 :]) or None
            tokens = tokens[:i]
            break
    clauses: list[Predicate] = []
    i = 0
    expect_clause = True
    while i < len(tokens):
        kind, text = tokens[i]
        if (kind, text) in (("op", "("), ("op", ")")):
            i += 1
            continue
        if not expect_clause:
            if kind == "word" and text.upper() == "AND":
                expect_clause, i = True, i + 1
                continue
            raise JqlError(
                f"Error in the JQL Query: expecting 'AND' but got {text!r} (the stand-in supports AND only)."
            )
        clause, i = _clause(tokens, i)
        clauses.append(clause)
        expect_clause = False
    if expect_clause and clauses:
        raise JqlError("Error in the JQL Query: expecting a clause after 'AND'.")
    return Query(lambda rec: all(c(rec) for c in clauses), order_by, _named_keys(tokens))


def _named_keys(tokens: list[tuple[str, str]]) -> tuple[str, ...]:
    found: list[str] = []
    for i, (kind, text) in enumerate(tokens[:-1]):
        if kind != "word" or text.lower() not in ("key", "issuekey"):
            continue
        nxt = tokens[i + 1]
        if nxt == ("op", "="):
            found += [t[1] for t in tokens[i + 2 : i + 3] if t[0] != "op"]
        elif nxt[0] == "word" and nxt[1].lower() == "in":
            j = i + 3
            while j < len(tokens) and tokens[j] != ("op", ")"):
                if tokens[j][0] != "op":
                    found.append(tokens[j][1])
                j += 1
    return tuple(found)


def _value(tokens: list[tuple[str, str]], i: int) -> tuple[str, int]:
    if i >= len(tokens) or tokens[i][0] == "op":
        raise JqlError("Error in the JQL Query: expecting a value.")
    return tokens[i][1], i + 1


def _clause(tokens: list[tuple[str, str]], i: int) -> tuple[Predicate, int]:
    field = tokens[i][1].lower()
    if field not in FIELDS:
        raise JqlError(f"Field '{tokens[i][1]}' does not exist or you do not have permission to view it.")
    i += 1
    op = " ".join(t[1].lower() for t in tokens[i : i + 2])
    if op.startswith("not in"):
        values, i = _list(tokens, i + 2)
        return (lambda rec: not _any(rec.get(field), values)), i
    if op.startswith("in"):
        values, i = _list(tokens, i + 1)
        return (lambda rec: _any(rec.get(field), values)), i
    if op in ("is empty", "is null"):
        return (lambda rec: not rec.get(field)), i + 2
    if op.startswith("is not"):
        return (lambda rec: bool(rec.get(field))), i + 3
    if i < len(tokens) and tokens[i] in (("op", "="), ("op", "!="), ("op", "~")):
        sym = tokens[i][1]
        value, i = _value(tokens, i + 1)
        if sym == "~":
            return (lambda rec: value.lower() in str(rec.get(field) or "").lower()), i
        if sym == "!=":
            return (lambda rec: not _any(rec.get(field), [value])), i
        return (lambda rec: _any(rec.get(field), [value])), i
    raise JqlError(f"Error in the JQL Query: expecting an operator after the field '{field}'.")


def _list(tokens: list[tuple[str, str]], i: int) -> tuple[list[str], int]:
    if i >= len(tokens) or tokens[i] != ("op", "("):
        raise JqlError("Error in the JQL Query: expecting '(' after 'in'.")
    values: list[str] = []
    i += 1
    while i < len(tokens) and tokens[i] != ("op", ")"):
        if tokens[i] == ("op", ","):
            i += 1
            continue
        value, i = _value(tokens, i)
        values.append(value)
    return values, i + 1


def _any(have: object, values: list[str]) -> bool:
    """Jira compares these fields case-insensitively; fixVersion is a list."""
    items = have if isinstance(have, list) else [have]
    wanted = {v.lower() for v in values}
    return any(str(h).lower() in wanted for h in items if h is not None)
