"""pipekit ecr-push against real parts: moto_server (ECR API over HTTP), docker-registry, buildah images.

The split world: the ECR API is moto, the registry host is a local docker-registry reached with
--registry-override. Each test uses its own repository name; moto is reset between tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipekit.testing.moto import MotoServer
from pipekit.testing.registry import LocalRegistry
from tests.conftest import REPO_ROOT, SCHEMAS

pytestmark = pytest.mark.slow
needs = pytest.mark.skipif(
    not (shutil.which("buildah") and shutil.which("docker-registry")),
    reason="buildah and docker-registry are required (apt-get install -y buildah docker-registry)",
)
PASSWORD = "123456789012-auth-token"  # what moto's GetAuthorizationToken decodes to


@pytest.fixture(scope="module")
def moto(_moto_session: MotoServer) -> MotoServer:
    _moto_session.reset()  # this module's tests share its state, as before
    return _moto_session


@pytest.fixture(scope="module")
def registry(_registry_session: LocalRegistry) -> LocalRegistry:
    _registry_session.reset()
    return _registry_session


def build_image(tmp: Path, name: str, content: str) -> str:
    ctx = tmp / f"ctx-{uuid.uuid4().hex[:6]}"
    ctx.mkdir()
    (ctx / "payload.txt").write_text(content)
    (ctx / "Containerfile").write_text("FROM scratch\nCOPY payload.txt /payload.txt\n")
    ref = f"localhost/{name}:local"
    subprocess.run(
        ["buildah", "bud", "-q", "--layers=false", "-t", ref, str(ctx)], check=True, capture_output=True
    )
    return ref


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Two different local images (A and B) built by buildah, removed afterwards."""
    tmp = tmp_path_factory.mktemp("images")
    suffix = uuid.uuid4().hex[:8]
    built = {
        "a": build_image(tmp, f"pipekit-ecr-a-{suffix}", f"image A {suffix}\n"),
        "b": build_image(tmp, f"pipekit-ecr-b-{suffix}", f"image B {suffix}\n"),
    }
    yield built
    subprocess.run(["buildah", "rmi", *built.values()], capture_output=True)


@pytest.fixture
def world(moto: MotoServer, registry: LocalRegistry, tmp_path: Path) -> dict[str, object]:
    moto.reset()
    return {"moto": moto, "registry": registry, "repo": f"svc-{uuid.uuid4().hex[:8]}", "tmp": tmp_path}


def base_env(tmp: Path, moto: MotoServer | None = None) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO_ROOT),
        "PIPEKIT_RUN_RECORD": str(tmp / ".pipekit" / "run.json"),
        "REGISTRY_AUTH_FILE": str(tmp / "auth.json"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-credentials"),
        "AWS_CONFIG_FILE": str(tmp / "no-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if moto is not None:
        env.update(moto.aws_env())
    return env


def ecr_push(
    world: dict[str, object], *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    tmp = world["tmp"]
    assert isinstance(tmp, Path)
    moto = world["moto"]
    assert isinstance(moto, MotoServer)
    full = base_env(tmp, moto)
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pipekit", "ecr-push", *args],
        env=full,
        cwd=cwd or tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )


def common(world: dict[str, object], image: str, tags: str) -> list[str]:
    reg = world["registry"]
    assert isinstance(reg, LocalRegistry)
    return [
        "--image",
        image,
        "--tags",
        tags,
        "--repository",
        str(world["repo"]),
        "--registry-override",
        reg.host,
        "--container-tool",
        "buildah",
    ]


def record(world: dict[str, object]) -> dict:
    tmp = world["tmp"]
    assert isinstance(tmp, Path)
    return json.loads((tmp / ".pipekit" / "run.json").read_text())


def ecr(world: dict[str, object]):  # noqa: ANN201 - a boto3 client
    moto = world["moto"]
    assert isinstance(moto, MotoServer)
    return moto.client("ecr")


def create_repo(world: dict[str, object], mutability: str = "MUTABLE") -> None:
    ecr(world).create_repository(repositoryName=str(world["repo"]), imageTagMutability=mutability)


@needs
def test_creates_repository_from_config_pushes_and_rerun_skips(world: dict, images: dict) -> None:
    tmp: Path = world["tmp"]
    policy = {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep the last 30 images, expire the rest",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30},
                "action": {"type": "expire"},
            }
        ]
    }
    (tmp / "policy.json").write_text(json.dumps(policy))
    (tmp / "pipekit.yaml").write_text(
        "ecr:\n  create_repository: true\n  create:\n    image_tag_mutability: IMMUTABLE_WITH_EXCLUSION\n"
        '    image_tag_mutability_exclusion_filters: ["latest*"]\n    scan_on_push: true\n'
        "    encryption: {type: AES256}\n    lifecycle_policy: policy.json\n"
        '    tags: {team: payments, cost-center: "42"}\n'
    )
    first = ecr_push(world, *common(world, images["a"], "1.0.0 abc1234"), "--json")
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    repo = str(world["repo"])
    client = ecr(world)
    described = client.describe_repositories(repositoryNames=[repo])["repositories"][0]
    assert described["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert described["imageScanningConfiguration"] == {"scanOnPush": True}
    assert described["encryptionConfiguration"]["encryptionType"] == "AES256"
    assert json.loads(client.get_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"]) == policy
    tags = client.list_tags_for_resource(resourceArn=described["repositoryArn"])["tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "payments", "cost-center": "42"}
    # the digest in the record is the registry's own, and ECR (the API) agrees
    reg: LocalRegistry = world["registry"]
    digest = reg.manifest_digest(repo, "1.0.0")
    assert digest and digest.startswith("sha256:")
    assert reg.manifest_digest(repo, "abc1234") == digest
    assert result["digest"] == digest and result["pushed"] == ["1.0.0", "abc1234"] and result["skipped"] == []
    details = client.describe_images(repositoryName=repo)["imageDetails"]
    assert [d["imageDigest"] for d in details] == [digest]
    assert sorted(details[0]["imageTags"]) == ["1.0.0", "abc1234"]
    out = record(world)["steps"]["ecr_push"]
    assert out["status"] == "succeeded"
    assert out["outputs"]["digest"] == digest
    assert out["outputs"]["image_uri"] == f"{reg.host}/{repo}" and out["outputs"]["registry"] == reg.host
    assert out["outputs"]["tags"] == ["1.0.0", "abc1234"] and out["outputs"]["skipped"] == []
    assert "password" not in json.dumps(out) and PASSWORD not in json.dumps(out)

    again = ecr_push(world, *common(world, images["a"], "1.0.0 abc1234"))
    assert again.returncode == 0, again.stderr
    assert "nothing to push" in again.stdout
    assert "logged in" not in again.stdout  # the skip path does not even log in
    out = record(world)["steps"]["ecr_push"]["outputs"]
    assert out["skipped"] == ["1.0.0", "abc1234"] and out["pushed"] == [] and out["digest"] == digest


@needs
def test_defaults_come_from_the_build_record_and_login_is_reused(world: dict, images: dict) -> None:
    tmp: Path = world["tmp"]
    name = images["a"].rsplit(":", 1)[0]
    (tmp / ".pipekit").mkdir()
    (tmp / ".pipekit" / "run.json").write_text(
        json.dumps(
            {
                "version": 1,
                "steps": {
                    "build": {
                        "status": "succeeded",
                        "outputs": {
                            "image": name,
                            "tags": ["local", "7.1.0"],
                            "image_ref": images["a"],
                            "container_tool": "buildah",
                        },
                    }
                },
            }
        )
    )
    reg: LocalRegistry = world["registry"]
    expected_repo = name.split("/", 1)[1]
    ecr(world).create_repository(repositoryName=expected_repo)
    first = ecr_push(world, "--registry-override", reg.host)
    assert first.returncode == 0, first.stderr
    assert "buildah logged in" in first.stdout
    out = record(world)["steps"]["ecr_push"]["outputs"]
    assert out["repository"] == expected_repo and out["tags"] == ["local", "7.1.0"]
    assert set(out["login"]) == {"registry", "tool", "expires_at"}  # no password, ever
    # moto's token "expired" in 2015: it is taken as valid for ECR's 12 hours instead
    assert out["login"]["expires_at"] > "2026"
    # a new tag needs a push; the login from the first run is reused, not repeated
    second = ecr_push(world, "--registry-override", reg.host, "--tags", "7.1.1")
    assert second.returncode == 0, second.stderr
    assert "reusing the buildah login" in second.stdout
    assert reg.manifest_digest(expected_repo, "7.1.1") == out["digest"]


@needs
def test_immutable_tag_with_another_image_is_exit_1_and_nothing_moves(world: dict, images: dict) -> None:
    create_repo(world, "IMMUTABLE")
    assert ecr_push(world, *common(world, images["a"], "2.0.0")).returncode == 0
    reg: LocalRegistry = world["registry"]
    before = reg.manifest_digest(str(world["repo"]), "2.0.0")
    clash = ecr_push(world, *common(world, images["b"], "2.0.1 2.0.0"))
    assert clash.returncode == 1, clash.stderr
    assert "immutable repository" in clash.stderr and "2.0.0" in clash.stderr and "new tag" in clash.stderr
    assert "nothing was pushed" in clash.stderr
    assert reg.manifest_digest(str(world["repo"]), "2.0.0") == before
    assert reg.manifest_digest(str(world["repo"]), "2.0.1") is None  # nothing half done
    assert record(world)["steps"]["ecr_push"]["status"] == "failed"


@needs
def test_mutable_tag_is_overwritten_with_a_warning(world: dict, images: dict) -> None:
    create_repo(world, "MUTABLE")
    assert ecr_push(world, *common(world, images["a"], "latest")).returncode == 0
    again = ecr_push(world, *common(world, images["b"], "latest"), "--json")
    assert again.returncode == 0, again.stderr
    assert "WARNING" in again.stderr and "overwriting" in again.stderr
    result = json.loads(again.stdout)
    reg: LocalRegistry = world["registry"]
    assert result["overwritten"] == ["latest"]
    assert result["digest"] == reg.manifest_digest(str(world["repo"]), "latest")
    shown = ecr(world).describe_images(repositoryName=str(world["repo"]), imageIds=[{"imageTag": "latest"}])
    assert shown["imageDetails"][0]["imageDigest"] == result["digest"]


@needs
def test_retag_from_adds_a_tag_through_the_api(world: dict, images: dict) -> None:
    create_repo(world, "IMMUTABLE")
    assert ecr_push(world, *common(world, images["a"], "3.0.0")).returncode == 0
    digest = record(world)["steps"]["ecr_push"]["outputs"]["digest"]
    retag = ecr_push(
        world, "--repository", str(world["repo"]), "--retag-from", "3.0.0", "--tags", "qa-approved"
    )
    assert retag.returncode == 0, retag.stderr
    shown = ecr(world).describe_images(
        repositoryName=str(world["repo"]), imageIds=[{"imageTag": "qa-approved"}]
    )
    assert shown["imageDetails"][0]["imageDigest"] == digest
    reg: LocalRegistry = world["registry"]
    assert reg.manifest_digest(str(world["repo"]), "qa-approved") is None  # without an override: API only
    mirrored = ecr_push(
        world,
        "--repository",
        str(world["repo"]),
        "--retag-from",
        "3.0.0",
        "--tags",
        "qa-passed",
        "--registry-override",
        reg.host,
    )
    assert mirrored.returncode == 0, mirrored.stderr
    assert reg.manifest_digest(str(world["repo"]), "qa-passed") == digest  # the host gets the tag too
    again = ecr_push(
        world, "--repository", str(world["repo"]), "--retag-from", "3.0.0", "--tags", "qa-approved"
    )
    assert again.returncode == 0 and "nothing to push" in again.stdout
    missing = ecr_push(world, "--repository", str(world["repo"]), "--retag-from", "9.9.9", "--tags", "x")
    assert missing.returncode == 1 and "'9.9.9' not found" in missing.stderr


@needs
def test_scan_findings_are_written_as_sarif(world: dict, images: dict) -> None:
    create_repo(world)
    assert ecr_push(world, *common(world, images["a"], "4.0.0")).returncode == 0
    digest = record(world)["steps"]["ecr_push"]["outputs"]["digest"]
    ecr(world).start_image_scan(repositoryName=str(world["repo"]), imageId={"imageDigest": digest})
    report = world["tmp"] / "ecr-scan.sarif"
    done = ecr_push(world, *common(world, images["a"], "4.0.0"), "--scan-report", str(report))
    assert done.returncode == 0, done.stderr
    sarif = json.loads(report.read_text())
    import jsonschema

    jsonschema.Draft7Validator(json.loads((SCHEMAS / "sarif-2.1.0.schema.json").read_text())).validate(sarif)
    result = sarif["runs"][0]["results"][0]
    assert result["ruleId"] == "CVE-9999-9999" and result["level"] == "error"
    assert sarif["runs"][0]["tool"]["driver"]["rules"][0]["properties"]["security-severity"] == "8.0"
    out = record(world)["steps"]["ecr_push"]["outputs"]
    assert out["scan"] == {"status": "COMPLETE", "counts": {"high": 1}, "findings": 1}


@needs
def test_scan_wait_times_out_with_exit_4(world: dict, images: dict) -> None:
    create_repo(world)
    (world["tmp"] / "pipekit.yaml").write_text("ecr:\n  scan:\n    timeout_s: 0.3\n    poll_s: 0.1\n")
    late = ecr_push(world, *common(world, images["a"], "5.0.0"), "--wait-scan")
    assert late.returncode == 4, late.stderr
    assert "no scan result" in late.stderr and "scan_on_push" in late.stderr


# -- bad input ------------------------------------------------------------------------------
@needs
def test_missing_repository_without_creation_is_exit_1_naming_it(world: dict, images: dict) -> None:
    done = ecr_push(world, *common(world, images["a"], "1"))
    assert done.returncode == 1
    assert (
        f"ECR repository '{world['repo']}' does not exist" in done.stderr
        and "--create-repository" in done.stderr
    )


@needs
def test_missing_local_image_is_exit_2_naming_it(world: dict) -> None:
    create_repo(world)
    done = ecr_push(world, *common(world, "localhost/pipekit-no-such-image:nope", "1"))
    assert done.returncode == 2
    assert "localhost/pipekit-no-such-image:nope" in done.stderr
    assert not ecr(world).describe_images(repositoryName=str(world["repo"]))["imageDetails"]


def test_no_credentials_is_exit_2_listing_what_was_looked_for(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    env["AWS_REGION"] = "eu-west-1"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipekit",
            "ecr-push",
            "--repository",
            "svc",
            "--tags",
            "1",
            "--retag-from",
            "0",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    for looked in (
        "BITBUCKET_STEP_OIDC_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "instance metadata",
    ):
        assert looked in done.stderr


def test_bad_lifecycle_policy_file_is_exit_2_before_anything_happens(tmp_path: Path) -> None:
    (tmp_path / "policy.json").write_text('{"rules": [')
    (tmp_path / "pipekit.yaml").write_text("ecr:\n  create:\n    lifecycle_policy: policy.json\n")
    env = base_env(tmp_path)  # no AWS at all: the file is checked first
    done = subprocess.run(
        [sys.executable, "-m", "pipekit", "ecr-push", "--repository", "svc", "--tags", "1", "--image", "x:1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "policy.json:1" in done.stderr and "not valid JSON" in done.stderr


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--tags", "bad tag!"], "'tag!' is not a valid image tag"),
        (["--repository", "Bad_Name"], "'Bad_Name' is not a valid ECR repository name"),
        (["--insecure-registry"], "only applies with --registry-override"),
        (["--registry-override", "https://host/x"], "must be HOST or HOST:PORT"),
        (["--registry-id", "12345"], "is not an AWS account ID"),
    ],
)
def test_bad_flags_are_exit_2(tmp_path: Path, extra: list[str], message: str) -> None:
    argv = ["--repository", "svc", "--tags", "1", "--image", "x:1", *extra]  # later flags win in click
    done = subprocess.run(
        [sys.executable, "-m", "pipekit", "ecr-push", *argv],
        env=base_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr


def test_plain_http_only_on_loopback() -> None:
    from pipekit.images.push import is_loopback

    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost:5000") and is_loopback("[::1]:5000")
    assert is_loopback("127.0.0.1") and is_loopback("::1")
    assert not is_loopback("10.0.0.5:5000") and not is_loopback("registry.example.com:443")
    assert not is_loopback("localhost.example.com:5000")


def test_exclusion_forms_need_filters(tmp_path: Path) -> None:
    (tmp_path / "pipekit.yaml").write_text(
        "ecr:\n  create:\n    image_tag_mutability: IMMUTABLE_WITH_EXCLUSION\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pipekit", "ecr-push", "--repository", "svc", "--tags", "1", "--image", "x:1"],
        env=base_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "image_tag_mutability_exclusion_filters" in done.stderr


@pytest.mark.parametrize(
    "mutability, filters, tag, immutable",
    [
        ("MUTABLE", [], "latest", False),
        ("IMMUTABLE", [], "latest", True),
        ("IMMUTABLE_WITH_EXCLUSION", ["latest", "dev-*"], "dev-42", False),
        ("IMMUTABLE_WITH_EXCLUSION", ["latest", "dev-*"], "1.0.0", True),
        ("MUTABLE_WITH_EXCLUSION", ["v*"], "v1.2", True),
        ("MUTABLE_WITH_EXCLUSION", ["v*"], "latest", False),
    ],
)
def test_which_tags_are_immutable(mutability: str, filters: list[str], tag: str, immutable: bool) -> None:
    from pipekit.clients.ecr import Repository

    repo = Repository("svc", "1.dkr.ecr.eu-west-1.amazonaws.com/svc", "1", mutability, filters)
    assert repo.is_immutable(tag) is immutable


def test_put_image_of_the_same_image_twice_is_success(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ImageAlreadyExistsException (same manifest, same tag) counts as success, with the digest."""
    from pipekit.clients import aws
    from pipekit.clients.ecr import EcrClient

    moto.reset()
    for key, value in moto.aws_env().items():
        monkeypatch.setenv(key, value)
    client = EcrClient(aws.session(region=None, env=dict(os.environ)))
    client.api.create_repository(repositoryName="twice")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + "a" * 64,
                "size": 2,
            },
            "layers": [],
        }
    )
    media = "application/vnd.oci.image.manifest.v1+json"
    first = client.put_image("twice", "1", manifest, media, digest_of(manifest))
    assert first == digest_of(manifest)
    assert client.put_image("twice", "1", manifest, media, digest_of(manifest)) == first
    assert (
        client.put_image("twice", "1", manifest, media, None) == first
    )  # digest from the exception's message
    assert client.images("twice", ["1", "2"])["1"].config_digest == "sha256:" + "a" * 64


def digest_of(text: str) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_docker_login_state_is_read_from_its_config(tmp_path: Path) -> None:
    from pipekit.clients.containers import get_tool
    from pipekit.images.push import _tool_logged_in

    (tmp_path / "config.json").write_text(json.dumps({"auths": {"1.dkr.ecr.eu-west-1.amazonaws.com": {}}}))
    docker = get_tool("docker", env={"DOCKER_CONFIG": str(tmp_path)})
    assert _tool_logged_in(docker, "1.dkr.ecr.eu-west-1.amazonaws.com")
    assert not _tool_logged_in(docker, "2.dkr.ecr.eu-west-1.amazonaws.com")


def test_config_schema_rejects_an_unknown_mutability_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "pipekit.yaml").write_text("ecr:\n  create:\n    image_tag_mutability: SOMETIMES\n")
    done = subprocess.run(
        [sys.executable, "-m", "pipekit", "ecr-push", "--repository", "svc", "--tags", "1", "--image", "x:1"],
        env=base_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "pipekit.yaml:3" in done.stderr and "ecr.create.image_tag_mutability" in done.stderr


def test_cli_gc_settings_are_undone_and_what_was_loaded_is_frozen() -> None:
    import gc

    from pipekit.ecr_push import _short_lived_gc

    thresholds = gc.get_threshold()
    before = gc.get_freeze_count()
    try:
        with _short_lived_gc():
            assert gc.get_threshold()[0] >= 100_000  # hardly a collection pass while botocore loads
            loaded = [[n] for n in range(1000)]  # container objects the collector tracks
        assert gc.get_threshold() == thresholds
        assert gc.get_freeze_count() >= before + len(loaded)  # the exit collection will not walk them
    finally:
        gc.unfreeze()
