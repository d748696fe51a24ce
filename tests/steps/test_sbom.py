"""pipekit sbom with real Maven (offline, the machine's local repository), real cdxgen and a buildah image.

The SBOM must validate against the CycloneDX 1.6 JSON schema (../shared/schemas, with the SPDX
and JSF schemas it names by file) and list the dependencies Maven resolved, transitive ones
included, in the scopes asked for.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from tests.conftest import REPO_ROOT, SCHEMAS, run_pipekit

CDXGEN = os.environ.get("PIPEKIT_CDXGEN") or str(
    REPO_ROOT / ".venv" / "cdxgen" / "node_modules" / ".bin" / "cdxgen"
)
SAMPLE = REPO_ROOT / "pipekit" / "rehearsal" / "sample"
RUNTIME = Path(__file__).parents[1] / "fixtures" / "sbom" / "runtime-service"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("mvn") and Path(CDXGEN).exists()),
        reason="mvn and cdxgen are required (scripts/dev bootstrap installs cdxgen into .venv/cdxgen)",
    ),
]


def validate(bom: dict) -> None:
    schema = json.loads((SCHEMAS / "cyclonedx-bom-1.6.schema.json").read_text())
    registry = Registry()
    for name in ("spdx.schema.json", "jsf-0.82.schema.json"):  # referred to by relative file name
        registry = registry.with_resource(
            name, Resource.from_contents(json.loads((SCHEMAS / name).read_text()))
        )
    jsonschema.Draft7Validator(schema, registry=registry, format_checker=jsonschema.FormatChecker()).validate(
        bom
    )


def purls(bom: dict) -> set[str]:
    return {c["purl"].split("?")[0] for c in bom["components"] if c.get("purl", "").startswith("pkg:maven/")}


def sbom(cwd: Path, *args: str) -> tuple[int, str, dict]:
    proc = run_pipekit("sbom", "--maven-offline", *args, env={"PIPEKIT_CDXGEN": CDXGEN}, cwd=cwd, timeout=300)
    out = cwd / "sbom.cdx.json"
    return proc.returncode, proc.stderr, json.loads(out.read_text()) if out.exists() else {}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The rehearsal's sample service, packaged, and its image built with buildah."""
    work = tmp_path_factory.mktemp("sample") / "demo"
    shutil.copytree(SAMPLE, work)
    subprocess.run(
        ["mvn", "-o", "-B", "-q", "package", "-DskipTests"], cwd=work, check=True, capture_output=True
    )
    image = f"localhost/pipekit-sbom-{uuid.uuid4().hex[:8]}:1.0.0"
    subprocess.run(
        ["buildah", "bud", "-q", "--layers=false", "-t", image, str(work)], check=True, capture_output=True
    )
    yield work, image
    subprocess.run(["buildah", "rmi", image], capture_output=True)


@pytest.mark.skipif(not shutil.which("buildah"), reason="buildah is required (apt-get install -y buildah)")
def test_sample_service_sbom_validates_and_lists_its_dependencies_and_image(sample: tuple[Path, str]) -> None:
    work, image = sample
    code, err, bom = sbom(work, "--scope", "all", "--image", image, "--container-tool", "buildah")
    assert code == 0, err
    validate(bom)
    assert bom["specVersion"] == "1.6"
    assert bom["metadata"]["component"]["purl"].startswith("pkg:maven/com.example/demo-service@1.0.0")
    # the sample's one dependency and what Maven resolved under it
    assert {
        "pkg:maven/org.junit.jupiter/junit-jupiter@5.10.2",
        "pkg:maven/org.junit.jupiter/junit-jupiter-api@5.10.2",
        "pkg:maven/org.opentest4j/opentest4j@1.3.0",
        "pkg:maven/org.junit.platform/junit-platform-engine@1.10.2",
    } <= purls(bom)
    graph = {d["ref"].split("?")[0]: d["dependsOn"] for d in bom["dependencies"]}
    assert any(
        "junit-jupiter-api" in ref for ref in graph["pkg:maven/org.junit.jupiter/junit-jupiter@5.10.2"]
    )
    # the image: the service's jar found inside it, and the image itself
    containers = [c for c in bom["components"] if c["type"] == "container"]
    assert [c["name"] for c in containers] == [image.rsplit(":", 1)[0]]
    outputs = json.loads(Path(os.environ["PIPEKIT_RUN_RECORD"]).read_text())["steps"]["sbom"]["outputs"]
    assert outputs["path"] == "sbom.cdx.json" and outputs["components"] == len(bom["components"])
    assert outputs["generator"].startswith("cdxgen 12.")


def test_scopes_list_what_maven_resolved_for_them(tmp_path: Path) -> None:
    work = tmp_path / "svc"
    shutil.copytree(RUNTIME, work)
    code, err, bom = sbom(work)  # runtime: the default, as the CycloneDX Maven plugin's
    assert code == 0, err
    validate(bom)
    assert purls(bom) == {
        "pkg:maven/org.junit.jupiter/junit-jupiter-api@5.10.2",
        "pkg:maven/org.opentest4j/opentest4j@1.3.0",
        "pkg:maven/org.junit.platform/junit-platform-commons@1.10.2",
        "pkg:maven/org.apiguardian/apiguardian-api@1.1.2",
    }
    code, err, bom = sbom(work, "--scope", "test")
    assert code == 0, err
    assert "pkg:maven/org.junit.jupiter/junit-jupiter-engine@5.10.2" in purls(bom)
    assert "pkg:maven/org.junit.jupiter/junit-jupiter-api@5.10.2" not in purls(bom)


def test_bad_input_is_exit_2(tmp_path: Path) -> None:
    proc = run_pipekit("sbom", env={"PIPEKIT_CDXGEN": CDXGEN}, cwd=tmp_path)
    assert proc.returncode == 2 and "nothing to list" in proc.stderr
    proc = run_pipekit("sbom", "--from-run-record", env={"PIPEKIT_CDXGEN": CDXGEN}, cwd=tmp_path)
    assert proc.returncode == 2 and "run record has no built image" in proc.stderr
    shutil.copytree(RUNTIME, tmp_path / "svc")
    proc = run_pipekit("sbom", env={"PIPEKIT_CDXGEN": str(tmp_path / "no-cdxgen")}, cwd=tmp_path / "svc")
    assert proc.returncode == 2 and "cdxgen not found" in proc.stderr
    proc = run_pipekit(
        "sbom",
        "--no-maven",
        "--image",
        "localhost/pipekit-no-such-image:1",
        "--container-tool",
        "buildah",
        env={"PIPEKIT_CDXGEN": CDXGEN},
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "pipekit-no-such-image" in proc.stderr
