"""``pipekit sbom``: a CycloneDX SBOM of the service's Maven dependencies and of its image.

The story: decide what to describe (the Maven project when it has a pom.xml, the image named by
``--image`` or, with ``--from-run-record``, the one ``pipekit build`` recorded), ask Maven for
the dependency tree it resolves (its own resolver, offline with ``--maven-offline``), have
OWASP CycloneDX's cdxgen list the components of both (the Maven tree, the image's OS packages
and jars), merge them into one CycloneDX 1.6 JSON document, write it and record its path and
component count (run record ``sbom``: ``path``, ``components``) for ``ecr-push --sign`` to
attach as an attestation. docs/sbom.md says why cdxgen and how the tree reaches it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pipekit.core.errors import BadInput
from pipekit.core.options import option, resolve
from pipekit.core.outputs import BuildResult, SbomResult
from pipekit.core.step import StepContext, step_command
from pipekit.images import Tool

__all__ = ["SbomOptions", "SbomResult", "main", "options_from", "run"]


@dataclass(kw_only=True)
class SbomOptions:
    image: str | None = option(
        flag="--image",
        env="PIPEKIT_SBOM_IMAGE",
        help="Image to list: a local image of the container tool, or an image archive "
        "(.tar of docker save / OCI).",
    )
    from_run_record: bool = option(
        False,
        flag="--from-run-record",
        help="List the image pipekit build recorded (run record build.image_ref).",
    )
    maven: bool | None = option(
        flag="--maven/--no-maven",
        env="PIPEKIT_SBOM_MAVEN",
        config="sbom.maven",
        help="List the Maven project's dependencies [default: when --project-dir has a pom.xml].",
    )
    scope: Literal["runtime", "test", "all"] = option(
        "runtime",
        flag="--scope",
        env="PIPEKIT_SBOM_SCOPE",
        config="sbom.scope",
        help="Maven scopes listed: runtime (all but test, the CycloneDX Maven plugin's default), test, all.",
    )
    format: Literal["cyclonedx-json"] = option("cyclonedx-json", flag="--format", help="Output format.")
    out: Path = option(
        Path("sbom.cdx.json"),
        flag="--out",
        env="PIPEKIT_SBOM_OUT",
        config="sbom.out",
        min_length=1,
        help="Where to write the SBOM.",
    )
    project_dir: Path = option(
        Path("."),
        flag="--project-dir",
        env="PIPEKIT_SBOM_PROJECT_DIR",
        help="The Maven project (its pom.xml).",
    )
    maven_offline: bool = option(
        False,
        flag="--maven-offline",
        env="PIPEKIT_SBOM_MAVEN_OFFLINE",
        config="sbom.maven_offline",
        help="Resolve from the local repository only (mvn -o).",
    )
    container_tool: Tool | None = option(
        flag="--container-tool",
        env="PIPEKIT_CONTAINER_TOOL",
        help="Tool whose store holds --image [default: the one build used, else docker].",
    )
    cdxgen: str = option(
        "cdxgen",
        env="PIPEKIT_CDXGEN",
        config="sbom.cdxgen",
        min_length=1,
        help="The cdxgen command (npm @cyclonedx/cdxgen).",
    )
    timeout_s: float = option(
        300.0,
        env="PIPEKIT_SBOM_TIMEOUT",
        config="sbom.timeout_s",
        above=0,
        help="Seconds Maven, the image save and each cdxgen run may take.",
    )


def _plan(options: SbomOptions, ctx: StepContext) -> tuple[bool, str | None, str]:
    """(list Maven?, the image, the container tool)."""
    build = BuildResult.read(ctx.record)
    image = options.image
    if options.from_run_record and not image:
        if not (build.succeeded and build.image_ref):
            raise BadInput(
                f"--from-run-record: the run record has no built image (build is "
                f"{build.describe_status()}); run pipekit build first or pass --image"
            )
        image = build.image_ref
    maven = options.maven if options.maven is not None else (options.project_dir / "pom.xml").is_file()
    if not maven and not image:
        raise BadInput(
            "nothing to list: no pom.xml in the project directory and no image",
            hint="pass --image REF (or --from-run-record), or --project-dir of a Maven project",
        )
    tool = options.container_tool or build.container_tool or "docker"
    return maven, image, tool


def run(options: SbomOptions, ctx: StepContext) -> SbomResult:
    from pipekit.bom import cdxgen, maven, merge
    from pipekit.bom import image as images
    from pipekit.core.outfiles import atomic, check_writable

    with_maven, image, tool = _plan(options, ctx)
    check_writable(options.out, "--out")
    command = cdxgen.executable(options.cdxgen, ctx.env)
    env = dict(ctx.env)
    with (
        ctx.record.recording(SbomResult.SECTION) as outputs,
        cdxgen.workdir() as tmp,
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        work = Path(tmp)
        parts: dict[str, Any] = {}
        if image:  # save and list the image while Maven resolves

            def list_image() -> dict[str, Any]:
                archive = images.save(
                    image or "", tool, work / "image.tar", env=env, timeout=options.timeout_s
                )
                return cdxgen.image(command, archive, work, env=env, timeout=options.timeout_s)

            parts["image"] = pool.submit(list_image)
        if with_maven:
            tree = maven.resolved_tree(
                options.project_dir,
                scope=options.scope,
                offline=options.maven_offline,
                env=env,
                timeout=options.timeout_s,
            )
            ctx.console.info(f"Maven resolved {len(tree) - 1} dependencies in scope {options.scope}")
            parts["maven"] = pool.submit(
                cdxgen.maven,
                command,
                options.project_dir.resolve(),
                tree,
                work,
                env=env,
                timeout=options.timeout_s,
            )
        boms = {
            name: future.result() for name, future in sorted(parts.items(), key=lambda kv: kv[0] != "maven")
        }
        if image and "image" in boms:
            _name_image(boms["image"], image)
        bom = merge.merge(list(boms.values()))
        generator = f"cdxgen {cdxgen.version(command, env)}"
        with atomic(options.out, "w") as fh:
            fh.write(json.dumps(bom, indent=2) + "\n")
        result = SbomResult(
            path=str(options.out),
            components=len(bom.get("components") or []),
            spec_version=str(bom.get("specVersion", "")),
            generator=generator,
            maven=with_maven,
            image=image,
            parts={k: len(v.get("components") or []) for k, v in boms.items()},
        )
        result.write_to(outputs)
    ctx.console.success(
        f"SBOM {result.path}: {result.components} components (CycloneDX {result.spec_version}, "
        f"{generator}; " + ", ".join(f"{k} {v}" for k, v in result.parts.items()) + ")"
    )
    return result


def _name_image(bom: dict[str, Any], image: str) -> None:
    """cdxgen names the image after the archive's temporary folder: name it after the reference."""
    from urllib.parse import quote

    described = (bom.get("metadata") or {}).get("component")
    if not isinstance(described, dict):
        return
    name, tag = image, "latest"
    if ":" in image.rsplit("/", 1)[-1] and not image.endswith(".tar"):
        name, tag = image.rsplit(":", 1)
    described["name"], described["version"] = name, tag
    described["purl"] = (
        f"pkg:oci/{quote(name.rsplit('/', 1)[-1])}?repository_url={quote(name, safe='')}&tag={tag}"
    )


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> SbomOptions:
    options = resolve(SbomOptions, ctx, flags).options
    return replace(options, out=Path(options.out), project_dir=Path(options.project_dir))


@step_command("sbom", SbomOptions, help="A CycloneDX SBOM of the Maven dependencies and the image (cdxgen).")
def main(ctx: StepContext, flags: dict[str, Any]) -> SbomResult:
    return run(options_from(ctx, flags), ctx)


if __name__ == "__main__":
    main()
