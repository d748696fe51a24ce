"""Turn a ``bitbucket-pipelines.yml`` into the model, refusing what Bitbucket refuses (exit 2, ``file:line``).

Atlassian's published schema accepts unknown keys, so a typo (``scrpit:``) would pass it; every
mapping here is checked against the keywords Atlassian documents for it. The rules checked here
are the ones that hold for any trigger; :mod:`pipekit.pipelines.rules` checks the pipeline that
is about to run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput
from pipekit.pipelines import caches as cache_defs
from pipekit.pipelines import document
from pipekit.pipelines.document import Document
from pipekit.pipelines.model import (
    DEFAULT_MAX_TIME_MIN,
    Artifacts,
    CacheDef,
    Clone,
    Command,
    Condition,
    CustomVariable,
    Image,
    Item,
    Parallel,
    Pipe,
    Pipeline,
    PipelineFile,
    ServiceDef,
    Stage,
    Step,
    Upload,
)

P = tuple[Any, ...]
TOP = {"image", "clone", "definitions", "pipelines", "options", "export", "labels", "triggers"}
DEFINITIONS = {"caches", "services", "steps", "pipelines", "imports"}
SECTIONS = {"default", "branches", "tags", "bookmarks", "pull-requests", "custom"}
STEP = {
    "name",
    "script",
    "after-script",
    "image",
    "caches",
    "services",
    "artifacts",
    "clone",
    "condition",
    "deployment",
    "trigger",
    "max-time",
    "oidc",
    "fail-fast",
    "size",
    "runs-on",
    "runtime",
    "concurrency-group",
    "type",
    "custom",
    "input-variables",
    "environment",
}
NOT_RUN = {
    "type": "a step type",
    "custom": "a shared pipeline step",
    "input-variables": "input variables",
    "environment": "the step 'environment' keyword",
    "runtime": "a runtime",
}
STAGE = {"name", "steps", "deployment", "trigger", "condition"}
CLONE = {"depth", "enabled", "lfs", "skip-ssl-verify"}
IMAGE = {"name", "username", "password", "email", "aws", "run-as-user"}
ARTIFACTS = {"download", "paths", "upload"}
UPLOAD = {"name", "paths", "type", "capture-on", "ignore-paths", "depth"}
SERVICE = {"image", "variables", "memory", "type"}
OPTIONS = {"docker", "max-time", "size", "runs-on", "runtime"}


def load(path: Path) -> PipelineFile:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(
            f"{path}: no such pipeline file", hint="pass the bitbucket-pipelines.yml to run"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read it: {exc}") from None
    return parse(text, path)


def parse(text: str, path: Path) -> PipelineFile:
    doc = document.load(text, path.name)
    return Reader(doc, path).file()


class Reader:
    def __init__(self, doc: Document, path: Path) -> None:
        self.doc = doc
        self.out = PipelineFile(path=path, document=doc)

    # -- the file ------------------------------------------------------------------------------
    def file(self) -> PipelineFile:
        root = self.mapping(self.doc.data, (), "the file", TOP)
        if "pipelines" not in root:
            raise self.doc.error((), "no 'pipelines' section: Bitbucket starts nothing from this file")
        out = self.out
        if "image" in root:
            out.image = self.image(root["image"], ("image",))
        if "clone" in root:
            out.clone = self.clone(root["clone"], ("clone",))
        options = self.mapping(root.get("options", {}), ("options",), "options", OPTIONS)
        out.docker_everywhere = self.boolean(options.get("docker", False), ("options", "docker"))
        out.max_time = self.max_time(options.get("max-time", DEFAULT_MAX_TIME_MIN), ("options", "max-time"))
        for key in ("size", "runs-on", "runtime"):
            if key in options:
                out.notes.append(f"options.{key} is not emulated: steps run with this machine's resources")
        if "triggers" in root:
            out.notes.append(
                "triggers (pipelines started by events) are not emulated: name the pipeline to run"
            )
        self.definitions(self.mapping(root.get("definitions", {}), ("definitions",), "definitions", None))
        self.pipelines(self.mapping(root["pipelines"], ("pipelines",), "pipelines", SECTIONS))
        return out

    def definitions(self, defs: dict[str, Any]) -> None:
        for key in defs:
            if key not in DEFINITIONS:
                self.doc.warnings.append(
                    f"{self.doc.where(('definitions', key))}: definitions.{key} is not a "
                    "Bitbucket definition (kept only as a place for YAML anchors)"
                )
        if "imports" in defs or "pipelines" in defs:
            key = "imports" if "imports" in defs else "pipelines"
            raise self.doc.error(
                ("definitions", key),
                f"definitions.{key} (shared pipelines from other "
                "repositories) is not run by pipekit run-pipeline",
            )
        caches = self.mapping(defs.get("caches", {}), ("definitions", "caches"), "definitions.caches", None)
        for name, value in caches.items():
            self.out.caches[name] = self.cache(name, value, ("definitions", "caches", name))
        services = self.mapping(
            defs.get("services", {}), ("definitions", "services"), "definitions.services", None
        )
        for name, value in services.items():
            self.out.services[name] = self.service(name, value, ("definitions", "services", name))

    def cache(self, name: str, value: Any, path: P) -> CacheDef:
        if name in cache_defs.PREDEFINED and name != "docker":
            self.doc.warnings.append(
                f"{self.doc.where(path)}: the custom cache {name!r} replaces Bitbucket's predefined one"
            )
        if isinstance(value, str):
            return CacheDef(name, self.cache_path(value, path))
        cache = self.mapping(value, path, f"cache {name}", {"path", "key"})
        if "path" not in cache:
            raise self.doc.error(path, f"cache {name!r} has no path")
        key = self.mapping(cache.get("key", {"files": []}), path + ("key",), "cache key", {"files"})
        files = self.strings(key.get("files", []), path + ("key", "files"), "key files")
        if "key" in cache and not files:
            raise self.doc.error(path + ("key",), f"cache {name!r}: key needs files")
        return CacheDef(name, self.cache_path(cache["path"], path + ("path",)), tuple(files))

    def cache_path(self, value: Any, path: P) -> str:
        text = self.string(value, path, "a cache path")
        if not text.strip():
            raise self.doc.error(path, "empty cache path")
        return text

    def service(self, name: str, value: Any, path: P) -> ServiceDef:
        spec = self.mapping(value, path, f"service {name}", SERVICE)
        docker = name == "docker" or spec.get("type") == "docker"
        if "type" in spec and spec["type"] != "docker":
            raise self.doc.error(
                path + ("type",), f"service type {spec['type']!r}: Bitbucket knows only 'docker'"
            )
        image = self.image(spec["image"], path + ("image",)) if "image" in spec else None
        if image is None and not docker:
            raise self.doc.error(path, f"service {name!r} has no image")
        variables = self.mapping(spec.get("variables", {}), path + ("variables",), "service variables", None)
        return ServiceDef(
            name,
            image,
            {
                str(k): self.string(v, path + ("variables", k), "a service variable")
                for k, v in variables.items()
            },
            docker,
        )

    # -- pipelines -----------------------------------------------------------------------------
    def pipelines(self, sections: dict[str, Any]) -> None:
        out = self.out
        if not sections:
            raise self.doc.error(
                ("pipelines",), "'pipelines' is empty: Bitbucket starts nothing from this file"
            )
        if "default" in sections:
            out.default = self.pipeline("default", None, sections["default"], ("pipelines", "default"))
        targets = {
            "branches": out.branches,
            "tags": out.tags,
            "bookmarks": out.bookmarks,
            "pull-requests": out.pull_requests,
            "custom": out.custom,
        }
        for section, target in targets.items():
            if section not in sections:
                continue
            base = ("pipelines", section)
            for pattern, value in self.mapping(sections[section], base, section, None).items():
                pattern = pattern.strip()
                if pattern in target:
                    self.doc.warnings.append(
                        f"{self.doc.where(base + (pattern,))}: {section} {pattern!r} is "
                        "defined twice (quoted and unquoted names are the same): one is used"
                    )
                target[pattern] = self.pipeline(section, pattern, value, base + (pattern,))

    def pipeline(self, section: str, pattern: str | None, value: Any, path: P) -> Pipeline:
        line = self.doc.line(path) or 0
        if isinstance(value, dict):
            if "import" in value:
                raise self.doc.error(path, "an imported pipeline is not run by pipekit run-pipeline")
            if section == "pull-requests":
                dests = self.mapping(value, path, "pull-requests", {"destinations"})
                found = self.mapping(
                    dests.get("destinations", {}), path + ("destinations",), "destinations", None
                )
                pipe = Pipeline(section, pattern, [], line)
                for dest, items in found.items():
                    pipe.destinations[dest] = self.pipeline(
                        section, f"{pattern} -> {dest}", items, path + ("destinations", dest)
                    )
                if not pipe.destinations:
                    raise self.doc.error(path, "a pull-requests pipeline needs steps or destinations")
                return pipe
        items = self.sequence(value, path, "a pipeline (a list of steps)")
        if not items:
            raise self.doc.error(path, "a pipeline needs at least one step")
        pipe = Pipeline(section, pattern, [], line)
        for i, entry in enumerate(items):
            here = path + (i,)
            if isinstance(entry, dict) and "variables" in entry and len(entry) == 1:
                if section != "custom" or i != 0:
                    raise self.doc.error(here, "'variables' belongs only first in a custom pipeline")
                pipe.variables = self.custom_variables(entry["variables"], here + ("variables",))
                continue
            pipe.items.append(self.item(entry, here))
        if not pipe.items:
            raise self.doc.error(path, "a pipeline needs at least one step")
        return pipe

    def item(self, entry: Any, path: P) -> Item:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise self.doc.error(path, "each pipeline entry is one of step:, parallel: or stage:")
        ((kind, body),) = entry.items()
        if kind == "step":
            return self.step(body, path + ("step",))
        if kind == "parallel":
            return self.parallel(body, path + ("parallel",))
        if kind == "stage":
            return self.stage(body, path + ("stage",))
        raise self.doc.error(path + (kind,), f"unknown keyword {kind!r}: expected step, parallel or stage")

    def parallel(self, body: Any, path: P) -> Parallel:
        fail_fast = False
        if isinstance(body, dict):
            spec = self.mapping(body, path, "parallel", {"steps", "fail-fast"})
            fail_fast = self.boolean(spec.get("fail-fast", False), path + ("fail-fast",))
            path = path + ("steps",)
            body = spec.get("steps")
        entries = self.sequence(body, path, "parallel steps")
        steps = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or set(entry) != {"step"}:
                raise self.doc.error(path + (i,), "a parallel group holds only step: entries")
            steps.append(self.step(entry["step"], path + (i, "step")))
        if len(steps) < 2:
            self.doc.warnings.append(f"{self.doc.where(path)}: a parallel group of one step")
        for step in steps:
            if step.manual:
                raise self.doc.error(path, "a step in a parallel group cannot be manual")
        return Parallel(steps, self.doc.line(path) or 0, fail_fast)

    def stage(self, body: Any, path: P) -> Stage:
        spec = self.mapping(body, path, "stage", STAGE)
        entries = self.sequence(spec.get("steps"), path + ("steps",), "stage steps")
        steps = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or set(entry) != {"step"}:
                raise self.doc.error(path + ("steps", i), "a stage holds only step: entries")
            here = path + ("steps", i, "step")
            step = self.step(entry["step"], here)
            for key, what in (("condition", "a condition"), ("deployment", "a deployment")):
                if isinstance(entry["step"], dict) and key in entry["step"]:
                    raise self.doc.error(
                        here + (key,), f"a step in a stage cannot have {what}: give it to the stage"
                    )
            if step.manual:
                raise self.doc.error(
                    here + ("trigger",), "a step in a stage cannot be manual: make the stage manual"
                )
            steps.append(step)
        if not steps:
            raise self.doc.error(path, "a stage needs steps")
        return Stage(
            name=self.optional_string(spec.get("name"), path + ("name",)),
            steps=steps,
            line=self.doc.line(path) or 0,
            deployment=self.deployment(spec, path),
            manual=self.trigger(spec, path),
            condition=self.condition(spec, path),
        )

    def step(self, body: Any, path: P) -> Step:
        spec = self.mapping(body, path, "step", STEP)
        for key, what in NOT_RUN.items():
            if key in spec:
                raise self.doc.error(path + (key,), f"{what} ({key}:) is not run by pipekit run-pipeline")
        if "script" not in spec:
            raise self.doc.error(
                path, "a step needs a script", hint="Bitbucket: missing or empty 'script' section"
            )
        notes = tuple(
            f"{key} is not emulated: the step runs with this machine's resources"
            for key in ("size", "runs-on")
            if key in spec
        )
        max_time = self.max_time(spec["max-time"], path + ("max-time",)) if "max-time" in spec else None
        return Step(
            name=self.optional_string(spec.get("name"), path + ("name",)),
            script=self.script(spec["script"], path + ("script",)),
            line=self.doc.line(path) or 0,
            after_script=self.script(spec["after-script"], path + ("after-script",))
            if "after-script" in spec
            else (),
            image=self.image(spec["image"], path + ("image",)) if "image" in spec else None,
            caches=tuple(self.strings(spec.get("caches", []), path + ("caches",), "caches")),
            services=tuple(self.strings(spec.get("services", []), path + ("services",), "services")),
            artifacts=self.artifacts(spec["artifacts"], path + ("artifacts",))
            if "artifacts" in spec
            else Artifacts(),
            clone=self.clone(spec["clone"], path + ("clone",)) if "clone" in spec else None,
            deployment=self.deployment(spec, path),
            manual=self.trigger(spec, path),
            max_time=max_time,
            oidc=self.boolean(spec.get("oidc", False), path + ("oidc",)),
            condition=self.condition(spec, path),
            fail_fast=self.boolean(spec["fail-fast"], path + ("fail-fast",)) if "fail-fast" in spec else None,
            notes=notes,
        )

    def script(self, value: Any, path: P) -> tuple[Command, ...]:
        lines = self.sequence(value, path, "a script (a list of commands)")
        if not lines:
            raise self.doc.error(path, "an empty script", hint="Bitbucket: missing or empty 'script' section")
        out: list[Command] = []
        for i, line in enumerate(lines):
            here = path + (i,)
            if isinstance(line, dict) and "pipe" in line:
                pipe = self.mapping(line, here, "pipe", {"pipe", "variables"})
                variables = self.mapping(
                    pipe.get("variables", {}), here + ("variables",), "pipe variables", None
                )
                out.append(Pipe(self.string(pipe["pipe"], here + ("pipe",), "a pipe"), dict(variables)))
            elif isinstance(line, dict):
                raise self.doc.error(
                    here,
                    "a script line is a mapping (a ': ' in an unquoted command?)",
                    hint="quote the whole command",
                )
            elif isinstance(line, (list,)) or line is None:
                raise self.doc.error(here, "a script line must be a command")
            else:
                out.append(str(line) if not isinstance(line, bool) else str(line).lower())
        return tuple(out)

    def artifacts(self, value: Any, path: P) -> Artifacts:
        if isinstance(value, list):
            return Artifacts(paths=self.artifact_paths(value, path))
        spec = self.mapping(value, path, "artifacts", ARTIFACTS)
        download: bool | tuple[str, ...] = True
        if "download" in spec:
            raw = spec["download"]
            download = (
                tuple(self.strings(raw, path + ("download",), "download"))
                if isinstance(raw, list)
                else self.boolean(raw, path + ("download",))
            )
        uploads = []
        for i, entry in enumerate(self.sequence(spec.get("upload", []), path + ("upload",), "upload")):
            here = path + ("upload", i)
            up = self.mapping(entry, here, "an artifact upload", UPLOAD)
            if "name" not in up or "paths" not in up:
                raise self.doc.error(here, "an artifact upload needs name and paths")
            kind = up.get("type", "shared")
            capture = up.get("capture-on", "success")
            if kind not in ("shared", "scoped", "test-reports"):
                raise self.doc.error(
                    here + ("type",), f"artifact type {kind!r}: one of shared, scoped, test-reports"
                )
            if capture not in ("success", "failed", "always"):
                raise self.doc.error(
                    here + ("capture-on",), f"capture-on {capture!r}: one of success, failed, always"
                )
            uploads.append(
                Upload(
                    self.string(up["name"], here + ("name",), "a name"),
                    self.artifact_paths(up["paths"], here + ("paths",)),
                    kind,
                    capture,
                    self.artifact_paths(up.get("ignore-paths", []), here + ("ignore-paths",)),
                )
            )
        paths = self.artifact_paths(spec.get("paths", []), path + ("paths",))
        return Artifacts(paths=paths, uploads=tuple(uploads), download=download)

    def artifact_paths(self, value: Any, path: P) -> tuple[str, ...]:
        out = []
        for i, pattern in enumerate(self.strings(value, path, "artifact paths")):
            parts = pattern.replace("\\", "/").split("/")
            if pattern.startswith(("/", "~")) or ".." in parts or "." in parts:
                raise self.doc.error(
                    path + (i,),
                    f"artifact path {pattern!r} is outside the clone",
                    hint="artifact paths are relative to BITBUCKET_CLONE_DIR, without . or ..",
                )
            out.append(pattern)
        return tuple(out)

    def condition(self, spec: dict[str, Any], path: P) -> Condition | None:
        if "condition" not in spec:
            return None
        cond = self.mapping(spec["condition"], path + ("condition",), "condition", {"changesets"})
        if "changesets" not in cond:
            raise self.doc.error(path + ("condition",), "a condition needs changesets")
        here = path + ("condition", "changesets")
        sets = self.mapping(cond["changesets"], here, "changesets", {"includePaths", "excludePaths"})
        if len(sets) != 1:
            raise self.doc.error(here, "changesets takes one of includePaths or excludePaths")
        include = self.strings(sets.get("includePaths", []), here + ("includePaths",), "includePaths")
        exclude = self.strings(sets.get("excludePaths", []), here + ("excludePaths",), "excludePaths")
        return Condition(tuple(include), tuple(exclude))

    def custom_variables(self, value: Any, path: P) -> list[CustomVariable]:
        out = []
        for i, entry in enumerate(self.sequence(value, path, "variables")):
            here = path + (i,)
            spec = self.mapping(
                entry, here, "a variable", {"name", "default", "allowed-values", "description"}
            )
            if "name" not in spec:
                raise self.doc.error(here, "a custom pipeline variable needs a name")
            allowed = tuple(
                str(v) for v in self.sequence(spec.get("allowed-values", []), here, "allowed-values")
            )
            default = None if spec.get("default") is None else str(spec["default"])
            if allowed and default is not None and default not in allowed:
                raise self.doc.error(
                    here + ("default",),
                    f"default {default!r} is not one of the allowed values {', '.join(allowed)}",
                )
            out.append(
                CustomVariable(self.string(spec["name"], here + ("name",), "a name"), default, allowed)
            )
        return out

    # -- small shapes --------------------------------------------------------------------------
    def image(self, value: Any, path: P) -> Image:
        if isinstance(value, str):
            return Image(value)
        spec = self.mapping(value, path, "image", IMAGE)
        if "name" not in spec:
            raise self.doc.error(path, "an image needs a name")
        aws = spec.get("aws")
        role = None
        if aws is not None:
            aws = self.mapping(aws, path + ("aws",), "image aws", {"access-key", "secret-key", "oidc-role"})
            role = str(aws["oidc-role"]) if "oidc-role" in aws else None
            if role is None and not {"access-key", "secret-key"} <= set(aws):
                raise self.doc.error(
                    path + ("aws",), "image aws needs oidc-role, or access-key and secret-key"
                )
        user = spec.get("run-as-user")
        if user is not None and not isinstance(user, int):
            raise self.doc.error(path + ("run-as-user",), "run-as-user must be a number (a user id)")
        return Image(
            self.string(spec["name"], path + ("name",), "an image name"),
            user,
            role,
            credentials="username" in spec or (aws is not None and role is None),
        )

    def clone(self, value: Any, path: P) -> Clone:
        spec = self.mapping(value, path, "clone", CLONE)
        depth: int | None = self.out.clone.depth if path != ("clone",) else Clone().depth
        if "depth" in spec:
            raw = spec["depth"]
            if raw == "full":
                depth = None
            elif isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1:
                depth = raw
            else:
                raise self.doc.error(path + ("depth",), f"clone depth {raw!r}: a number from 1, or full")
        return Clone(
            enabled=self.boolean(spec.get("enabled", True), path + ("enabled",)),
            depth=depth,
            lfs=self.boolean(spec.get("lfs", False), path + ("lfs",)),
        )

    def deployment(self, spec: dict[str, Any], path: P) -> str | None:
        return self.optional_string(spec.get("deployment"), path + ("deployment",))

    def trigger(self, spec: dict[str, Any], path: P) -> bool:
        value = spec.get("trigger", "automatic")
        if value not in ("automatic", "manual"):
            raise self.doc.error(path + ("trigger",), f"trigger {value!r}: automatic or manual")
        return bool(value == "manual")

    def max_time(self, value: Any, path: P) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise self.doc.error(path, f"max-time {value!r}: a whole number of minutes above 0")
        return value

    def mapping(self, value: Any, path: P, what: str, known: set[str] | None) -> dict[str, Any]:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.doc.error(path, f"{what} must be a mapping, not {_kind(value)}")
        if known is not None:
            for key in value:
                if key not in known:
                    raise self.doc.error(
                        path + (key,), f"unknown keyword {key!r} in {what}", hint=_suggest(key, known)
                    )
        return value

    def sequence(self, value: Any, path: P, what: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.doc.error(path, f"{what} must be a list, not {_kind(value)}")
        return value

    def strings(self, value: Any, path: P, what: str) -> list[str]:
        items = self.sequence(value, path, what)
        return [self.string(item, path + (i,), what) for i, item in enumerate(items)]

    def string(self, value: Any, path: P, what: str) -> str:
        if isinstance(value, (dict, list)) or value is None:
            raise self.doc.error(path, f"{what} must be a text value, not {_kind(value)}")
        return str(value) if not isinstance(value, bool) else str(value).lower()

    def optional_string(self, value: Any, path: P) -> str | None:
        return None if value is None else self.string(value, path, "a value")

    def boolean(self, value: Any, path: P) -> bool:
        if not isinstance(value, bool):
            raise self.doc.error(path, f"{value!r} must be true or false")
        return value


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", type(None): "empty"}.get(
        type(value), f"{type(value).__name__} {value!r}"
    )


def _suggest(key: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(key), sorted(known), n=1)
    return f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(sorted(known))
