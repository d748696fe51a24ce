"""ecr-push --sign against real parts: moto (ECR and KMS APIs), docker-registry, buildah images.

pipekit's signature must have exactly the layout cosign writes: the tag ``sha256-<hex>.sig``, an
OCI manifest whose layer is the simple-signing payload (``application/vnd.dev.cosign.simplesigning.v1+json``)
with the base64 signature in ``dev.cosignproject.cosign/signature``, the payload naming the
pushed digest and, as identity, the ECR repository (not the override host it went through).
KMS signatures are checked with pipekit's own verifier, not only moto's.
"""

from __future__ import annotations

import base64
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipekit.clients.oci import Registry
from pipekit.core.runrecord import RunRecord
from pipekit.signing import cosign_keys, keys, payload, store
from pipekit.testing.moto import ACCOUNT, MotoServer
from pipekit.testing.registry import LocalRegistry
from tests.steps.test_ecr_push import base_env, build_image

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("buildah") and shutil.which("docker-registry")),
        reason="buildah and docker-registry are required (apt-get install -y buildah docker-registry)",
    ),
]


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    with LocalRegistry() as reg:
        yield reg


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ref = build_image(
        tmp_path_factory.mktemp("img"), f"pipekit-sign-{uuid.uuid4().hex[:8]}", "signed payload\n"
    )
    yield ref
    import subprocess

    subprocess.run(["buildah", "rmi", ref], capture_output=True)


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("keys")
    private, public = cosign_keys.generate(b"correct horse", n=1 << 12)
    (folder / "cosign.key").write_text(private)
    (folder / "cosign.pub").write_text(public)
    return folder / "cosign.key", folder / "cosign.pub"


def push(
    moto: MotoServer,
    host: str,
    tmp: Path,
    image: str,
    repo: str,
    *extra: str,
    env: dict[str, str] | None = None,
):  # noqa: ANN201
    import subprocess
    import sys

    full = base_env(tmp, moto)
    full.update(env or {})
    args = [
        "--image",
        image,
        "--tags",
        "1.0.0",
        "--repository",
        repo,
        "--registry-override",
        host,
        "--container-tool",
        "buildah",
        "--create-repository",
        *extra,
    ]
    return subprocess.run(
        [sys.executable, "-m", "pipekit", "ecr-push", *args],
        env=full,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )


def record(tmp: Path) -> dict:
    return json.loads((tmp / ".pipekit" / "run.json").read_text())


def sig_layers(reg: LocalRegistry, repo: str, digest: str) -> tuple[dict, list[store.Layer]]:
    client = Registry(reg.host, plain_http=True)
    manifest = client.manifest(repo, store.tag_for(digest, "sig"))
    assert manifest is not None, "no .sig manifest"
    return json.loads(manifest.data), store.read(client, repo, store.tag_for(digest, "sig"))


def test_sign_writes_cosigns_layout_with_the_ecr_identity_and_skips_on_rerun(
    moto: MotoServer, registry: LocalRegistry, image: str, key_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    repo = f"svc-{uuid.uuid4().hex[:8]}"
    env = {"PIPEKIT_SIGNING_KEY": str(key_pair[0]), "COSIGN_PASSWORD": "correct horse"}
    # this run's SBOM and scan result, as pipekit sbom and pipekit scan record them
    sbom = tmp_path / "sbom.cdx.json"
    sbom.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}))
    run = RunRecord.load(tmp_path / ".pipekit" / "run.json")
    run.update_step("sbom", status="succeeded", outputs={"path": str(sbom), "components": 0})
    run.update_step(
        "scan",
        status="succeeded",
        started_at="2026-12-06T10:00:00Z",
        finished_at="2026-12-06T10:00:05Z",
        outputs={"summary": {"blocking": 0, "findings": 3}},
    )
    run.save()
    proc = push(moto, registry.host, tmp_path, image, repo, "--sign", env=env)
    assert proc.returncode == 0, proc.stderr
    steps = record(tmp_path)["steps"]
    digest = steps["ecr_push"]["outputs"]["digest"]
    identity = f"{ACCOUNT}.dkr.ecr.{moto.region}.amazonaws.com/{repo}"
    assert steps["sign"]["status"] == "succeeded"
    outputs = steps["sign"]["outputs"]
    assert (
        outputs["signature"] == "signed" and outputs["identity"] == identity and outputs["digest"] == digest
    )
    assert outputs["signature_tag"] == "sha256-" + digest.split(":")[1] + ".sig"
    assert outputs["key"] == str(key_pair[0])
    assert outputs["attestations"] == {
        payload.PREDICATE_CYCLONEDX: "attested",
        payload.PREDICATE_VULN: "attested",
    }

    manifest, layers = sig_layers(registry, repo, digest)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert len(layers) == 1
    layer = layers[0]
    assert layer.media_type == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert set(layer.annotations) == {"dev.cosignproject.cosign/signature"}
    body = json.loads(layer.payload)
    assert body == {
        "critical": {
            "identity": {"docker-reference": identity},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": None,
    }
    public = keys.load_public_key(str(key_pair[1]), {})
    assert public.verifies(
        base64.b64decode(layer.annotations["dev.cosignproject.cosign/signature"]), layer.payload
    )

    att = store.read(Registry(registry.host, plain_http=True), repo, store.tag_for(digest, "att"))
    assert [a.media_type for a in att] == ["application/vnd.dsse.envelope.v1+json"] * 2
    assert sorted(a.annotations["predicateType"] for a in att) == sorted(
        [payload.PREDICATE_CYCLONEDX, payload.PREDICATE_VULN]
    )
    statement = json.loads(payload.parse_envelope(att[0].payload).payload)  # type: ignore[union-attr]
    assert statement["subject"] == [{"name": identity, "digest": {"sha256": digest.split(":")[1]}}]

    again = push(moto, registry.host, tmp_path, image, repo, "--sign", env=env)
    assert again.returncode == 0, again.stderr
    assert record(tmp_path)["steps"]["sign"]["outputs"]["signature"] == "already-signed"
    assert set(record(tmp_path)["steps"]["sign"]["outputs"]["attestations"].values()) == {"already-attested"}
    assert len(sig_layers(registry, repo, digest)[1]) == 1


def test_kms_key_signs_and_pipekit_verifies_it(
    moto: MotoServer, registry: LocalRegistry, image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kms = moto.client("kms")
    arn = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
    repo = f"svc-{uuid.uuid4().hex[:8]}"
    proc = push(moto, registry.host, tmp_path, image, repo, "--sign", "--signing-key", f"awskms:///{arn}")
    assert proc.returncode == 0, proc.stderr
    digest = record(tmp_path)["steps"]["ecr_push"]["outputs"]["digest"]
    layer = sig_layers(registry, repo, digest)[1][0]
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    public = load_der_public_key(kms.get_public_key(KeyId=arn)["PublicKey"])
    assert keys.verify(public, base64.b64decode(layer.annotations[store.SIGNATURE_ANNOTATION]), layer.payload)
    assert record(tmp_path)["steps"]["sign"]["outputs"]["key"] == f"awskms:///{arn}"
    # the gate's and doctor's side: the same key as a trusted public key, read from KMS (botocore reads
    # the process environment, as in a pipeline step)
    for name, value in moto.aws_env().items():
        monkeypatch.setenv(name, value)
    trusted = keys.load_public_key(f"awskms:///{arn}", moto.aws_env())
    assert trusted.source == f"awskms:///{arn}" and keys.same_key(trusted.key, public)
    assert trusted.verifies(base64.b64decode(layer.annotations[store.SIGNATURE_ANNOTATION]), layer.payload)


def test_kms_digest_signature_that_does_not_verify_is_never_uploaded(
    moto: MotoServer, registry: LocalRegistry, image: str, tmp_path: Path
) -> None:
    """A message over 4096 bytes (a real SBOM attestation) is signed as a DIGEST; moto 5.2 hashes it again."""
    kms = moto.client("kms")
    arn = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
    sbom = tmp_path / "sbom.cdx.json"
    sbom.write_text(
        json.dumps(
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.6",
                "components": [{"type": "library", "name": f"lib{i}"} for i in range(300)],
            }
        )
    )
    run = RunRecord.load(tmp_path / ".pipekit" / "run.json")
    run.update_step("sbom", status="succeeded", outputs={"path": str(sbom), "components": 300})
    run.save()
    repo = f"svc-{uuid.uuid4().hex[:8]}"
    proc = push(moto, registry.host, tmp_path, image, repo, "--sign", "--signing-key", f"awskms:///{arn}")
    assert proc.returncode == 3, proc.stderr
    assert "does not verify with the key's own public key" in proc.stderr
    digest = record(tmp_path)["steps"]["ecr_push"]["outputs"]["digest"]
    assert Registry(registry.host, plain_http=True).manifest(repo, store.tag_for(digest, "att")) is None


def test_unusable_keys_are_exit_2_before_anything_is_pushed(
    moto: MotoServer, registry: LocalRegistry, image: str, key_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    repo = f"svc-{uuid.uuid4().hex[:8]}"
    proc = push(
        moto,
        registry.host,
        tmp_path,
        image,
        repo,
        "--sign",
        "--signing-key",
        str(key_pair[0]),
        env={"COSIGN_PASSWORD": "hunter2"},
    )
    assert proc.returncode == 2, proc.stderr
    assert f"signing key {key_pair[0]}: wrong password" in proc.stderr
    assert key_pair[0].read_text().splitlines()[1] not in proc.stderr + proc.stdout
    assert Registry(registry.host, plain_http=True).manifest(repo, "1.0.0") is None
    # named by PIPEKIT_SIGNING_KEY (whose name ends in _KEY): the reference is shown, it is not a secret
    proc = push(
        moto,
        registry.host,
        tmp_path,
        image,
        repo,
        "--sign",
        env={"PIPEKIT_SIGNING_KEY": str(key_pair[0]), "COSIGN_PASSWORD": "hunter2"},
    )
    assert proc.returncode == 2 and f"signing key {key_pair[0]}: wrong password" in proc.stderr, proc.stderr
    symmetric = moto.client("kms").create_key()["KeyMetadata"]["Arn"]
    proc = push(
        moto, registry.host, tmp_path, image, repo, "--sign", "--signing-key", f"awskms:///{symmetric}"
    )
    assert proc.returncode == 2 and "not an asymmetric ECC_NIST_P256 signing key" in proc.stderr, proc.stderr
    proc = push(moto, registry.host, tmp_path, image, repo, "--sign")
    assert proc.returncode == 2 and "--sign needs a key" in proc.stderr


def test_registry_refusing_the_signature_is_exit_3_with_the_push_recorded(
    moto: MotoServer, image: str, key_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    root = tmp_path / "registry-root"
    repo = f"svc-{uuid.uuid4().hex[:8]}"
    env = {"PIPEKIT_SIGNING_KEY": str(key_pair[0]), "COSIGN_PASSWORD": "correct horse"}
    with LocalRegistry(root=root) as writable:
        port = writable.port
        assert push(moto, writable.host, tmp_path, image, repo).returncode == 0
    with LocalRegistry(root=root, port=port, readonly=True) as readonly:
        proc = push(moto, readonly.host, tmp_path, image, repo, "--sign", env=env)
    assert proc.returncode == 3, proc.stderr
    assert "refused" in proc.stderr
    steps = record(tmp_path)["steps"]
    assert steps["ecr_push"]["status"] == "succeeded" and steps["ecr_push"]["outputs"]["digest"]
    assert steps["sign"]["status"] == "error"
