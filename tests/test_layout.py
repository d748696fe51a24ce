"""The layout shows the steps: only step modules, cli and __main__ at the top of pipekit/; the layers
of docs/architecture.md (a step never imports another step, a layer imports only the layers below
it); and no import cycles anywhere (an import inside a function or under TYPE_CHECKING counts too:
a cycle there is a cycle a reader has to untangle). And tests/ mirrors pipekit/."""

from __future__ import annotations

import ast
from pathlib import Path

from pipekit.cli import STEPS

ROOT = Path(__file__).resolve().parent.parent / "pipekit"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in ROOT.rglob("*.py")}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The pipekit modules ``name`` imports (``from a import b`` is a.b when b is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {m for m in found if m in known and m != name}


def test_only_steps_cli_and_main_at_the_top() -> None:
    steps = {module.rpartition(".")[2] for module, _ in STEPS.values()}
    top = {p.stem for p in ROOT.glob("*.py")}
    assert top - steps == {"__init__", "__main__", "cli"}, "move helpers into a domain package"
    assert steps <= top


# From the top down: each layer imports only itself and the layers below (testing: the stand-ins,
# which use the clients and the core, never the domain packages).
LAYERS = ("cli", "step", "domain", "testing", "clients", "core")
# The two places that look upwards, each for a reason:
ALLOWED = {
    # the rehearsal runs the pipeline: its steps, in-process, against the stand-ins
    "pipekit.rehearsal": {"step", "testing"},
    # init's lint checks `pipekit <step> --flag` lines of a pipeline against the real commands
    "pipekit.onboarding.lint": {"cli"},
}


def layer(name: str, steps: set[str]) -> str:
    if name in steps:
        return "step"
    if name in ("pipekit.cli", "pipekit.__main__"):
        return "cli"
    part = name.split(".")[1] if "." in name else "core"  # pipekit itself: the version
    return part if part in ("core", "clients", "testing") else "domain"


def test_a_layer_imports_only_the_layers_below_it_and_no_step_another() -> None:
    steps = {module for module, _ in STEPS.values()}
    mods = modules()
    wrong = []
    for name, path in sorted(mods.items()):
        own = layer(name, steps)
        allowed = next(
            (extra for prefix, extra in ALLOWED.items() if name == prefix or name.startswith(prefix + ".")),
            set(),
        )
        for imported in sorted(imports(name, path, set(mods))):
            theirs = layer(imported, steps)
            upward = LAYERS.index(theirs) < LAYERS.index(own)
            sideways = own == theirs == "step" or {own, theirs} == {"domain", "testing"}
            if (upward or sideways) and theirs not in allowed:
                wrong.append(f"{name} ({own}) imports {imported} ({theirs})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    mods = modules()
    graph = {name: imports(name, path, set(mods)) for name, path in mods.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_every_subprocess_goes_through_core_process() -> None:
    spawners = {"run", "Popen", "call", "check_call", "check_output", "getoutput", "getstatusoutput"}
    offenders = []
    for name, path in modules().items():
        if name == "pipekit.core.process":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and (
                    (node.func.value.id == "subprocess" and node.func.attr in spawners)
                    or (
                        node.func.value.id == "os"
                        and node.func.attr in {"system", "popen", "execv", "execvp", "spawnv", "posix_spawn"}
                    )
                )
            ):
                offenders.append(f"{name}:{node.lineno}")
    assert not offenders, f"use pipekit.core.process: {offenders}"


def test_every_step_module_says_its_python_api() -> None:
    missing = []
    for module, _ in STEPS.values():
        tree = ast.parse((ROOT.parent / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8"))
        names = next(
            (
                ast.literal_eval(n.value)
                for n in tree.body
                if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)
            ),
            None,
        )
        if names is None or not {"main", "options_from", "run"} <= set(names):
            missing.append(module)
    assert not missing, f"__all__ with main, options_from and run (and the options and result): {missing}"


# The tests of the project as a whole; every other test lives in the folder of what it tests.
PROJECT_WIDE = {
    "test_bitbucket_example.py",
    "test_cli.py",
    "test_docs_options.py",
    "test_environment.py",
    "test_layout.py",
    "test_readme.py",
    "test_shipped_versions.py",
}
# Files in tests/steps/ about one theme across several steps.
ACROSS_STEPS = {"test_bad_input_exit2.py", "test_child_interpreters.py", "test_step_options.py"}


def test_tests_mirror_pipekit() -> None:
    """CONTRIBUTING.md's 'Where a test goes': a folder per package, tests/steps/ named after the steps."""
    tests = ROOT.parent / "tests"
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    folders = {p.name for p in tests.iterdir() if p.is_dir() and p.name[0] not in "._"} - {
        "fixtures",
        "tools",
    }
    assert folders - packages == {"steps"}, "a test folder is named after a package of pipekit/"
    assert all((tests / f / "__init__.py").is_file() for f in folders)
    assert {p.name for p in tests.glob("test_*.py")} <= PROJECT_WIDE, (
        "move it into the folder of what it tests"
    )
    steps = [module.rpartition(".")[2] for module, _ in STEPS.values()]
    strays = {
        p.name
        for p in (tests / "steps").glob("test_*.py")
        if not any(p.stem == f"test_{s}" or p.stem.startswith(f"test_{s}_") for s in steps)
    }
    assert strays <= ACROSS_STEPS, "tests/steps/test_<step>.py or test_<step>_<theme>.py"
