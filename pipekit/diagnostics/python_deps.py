"""Python: pipekit and every dependency in the lock import, at the locked versions."""

from __future__ import annotations

import functools
import importlib.metadata as md
import re
from pathlib import Path

from pipekit.core.errors import BadInput
from pipekit.diagnostics.check import Check, CheckOutcome, DoctorPlan, fail, ok

KIND = "python"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", re.M)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def checks(plan: DoctorPlan) -> list[Check]:
    if plan.manifest is None:
        return []
    out = []
    for tool in plan.manifest.tools.values():
        if tool.kind != "python":
            continue
        out.append(Check(f"python:{tool.name}", KIND, functools.partial(_version, tool.name, tool.version)))
        if tool.lock:
            lock = Path(tool.lock) if Path(tool.lock).is_absolute() else Path(plan.base_dir) / tool.lock
            if not lock.is_file():
                raise BadInput(f"{plan.manifest.path}: tools.{tool.name}.lock {lock} does not exist")
            out.append(Check("python:locked-dependencies", KIND, functools.partial(check_lock, lock)))
    return out


def _version(dist: str, want: str) -> CheckOutcome:
    try:
        found = md.version(dist)
    except md.PackageNotFoundError:
        return fail(f"{dist} is not installed", f"pip install the {dist} wheel")
    if want not in ("from-pyproject", found):
        return fail(f"{dist} {found}, but {want} is promised", f"install {dist} {want}")
    return ok(f"{dist} {found}")


def locked(lock: Path) -> dict[str, str]:
    return {_norm(m.group(1)): m.group(2) for m in _PIN.finditer(lock.read_text(encoding="utf-8"))}


def check_lock(lock: Path) -> CheckOutcome:
    pins = locked(lock)
    wrong = []
    to_import: dict[str, str] = {}
    for name, want in sorted(pins.items()):
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            wrong.append(f"{name} missing (locked {want})")
            continue
        if dist.version != want:
            wrong.append(f"{name} {dist.version} (locked {want})")
            continue
        to_import.update(dict.fromkeys(top_level_modules(dist), name))
    broken = [f"{module} ({to_import.get(module, '?')}): {why}" for module, why in import_in_child(to_import)]
    problems = wrong + broken
    if problems:
        return fail(
            f"{len(problems)} of {len(pins)} locked packages wrong: "
            + "; ".join(problems[:4])
            + (" ..." if len(problems) > 4 else ""),
            f"pip install --require-hashes -r {lock}",
            wrong=wrong,
            broken=broken,
        )
    return ok(f"{len(pins)} locked packages at their versions, {len(to_import)} modules import")


def top_level_modules(dist: md.Distribution) -> list[str]:
    """The importable top-level names of one distribution (top_level.txt, else its RECORD)."""
    text = dist.read_text("top_level.txt")
    if text:
        names = [line.strip() for line in text.splitlines()]
    else:
        names = []
        for path in dist.files or []:
            first = path.parts[0] if path.parts else ""
            if len(path.parts) == 1 and first.endswith(".py"):
                names.append(first[:-3])
            elif (
                len(path.parts) > 1
                and not first.endswith((".dist-info", ".data"))
                and path.name == "__init__.py"
            ):
                names.append(first)
    return sorted({n for n in names if n and n.isidentifier() and not n.startswith("_")})


_IMPORTER = """
import importlib, importlib.metadata as md, json, os, sys
bad = []
for name, dist in json.loads(sys.argv[1]):
    try:
        module = importlib.import_module(name)
    except Exception as exc:
        bad.append([name, type(exc).__name__ + ": " + str(exc)[:200]])
        continue
    where = getattr(module, "__file__", None)
    try:
        files = md.distribution(dist).files
    except md.PackageNotFoundError:
        files = None
    if where and files:
        mine = {os.path.realpath(f.locate()) for f in files}
        if os.path.realpath(where) not in mine:
            bad.append([name, "imported from " + where + ", not from the installed " + dist])
print(json.dumps(bad))
"""


def import_in_child(modules: dict[str, str]) -> list[tuple[str, str]]:
    """Import ``modules`` (module -> the distribution that provides it) in a fresh, isolated
    interpreter (``-I``: no working directory, no ``PYTHONPATH``, no user site on ``sys.path``), and
    check each came from its distribution's installed files: a ``yaml.py`` lying in the working
    directory is neither imported (run) nor taken for PyYAML. A child also runs beside the tool
    probes instead of competing for this process's GIL."""
    import json
    import sys

    from pipekit.core import process

    if not modules:
        return []
    result = process.run(
        [sys.executable, "-I", "-c", _IMPORTER, json.dumps(sorted(modules.items()))], check=False, timeout=60
    )
    try:
        return [(str(m), str(why)) for m, why in json.loads(result.stdout.strip().splitlines()[-1])]
    except (ValueError, IndexError):
        return [("*", f"the import check failed (exit {result.returncode}): {result.stderr.strip()[-200:]}")]
