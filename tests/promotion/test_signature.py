"""promote's ``signature`` gate against a real registry (docker-registry) and real GitOps repositories.

Images are pushed to the local registry as real manifests and blobs; the overlays name them by
their ECR name and pipekit.yaml's ``ecr.registry_override`` points the gate at the local
registry, as ecr-push does. pipekit's own signatures, an unsigned image, another key's signature,
another repository's signature, the SBOM requirement, and real cosign-made signatures (the
containers/image test data) stored the way cosign stores them.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from pipekit.clients.oci import Registry
from pipekit.core.config import Config
from pipekit.promotion import signature
from pipekit.promotion.gates import GateRequest
from pipekit.signing import attach, cosign_keys, keys, payload, store
from pipekit.testing.registry import LocalRegistry
from tests.conftest import run_pipekit
from tests.fixtures.gitops.repo import IMAGE, git, make_repo, overlay, read

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not shutil.which("docker-registry"),
        reason="docker-registry is required (apt-get install -y docker-registry)",
    ),
]
FIXTURES = Path(__file__).parents[1] / "fixtures" / "cosign" / "containers-image"
ORDERS = IMAGE.format(service="orders")


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    with LocalRegistry() as reg:
        yield reg


@pytest.fixture(scope="module")
def signers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[keys.Signer, Path]]:
    """Two throwaway cosign key pairs: (signer, public key file)."""
    out: dict[str, tuple[keys.Signer, Path]] = {}
    folder = tmp_path_factory.mktemp("keys")
    for name in ("ours", "theirs"):
        private, public = cosign_keys.generate(b"pw", n=1 << 12)
        (folder / f"{name}.key").write_text(private)
        (folder / f"{name}.pub").write_text(public)
        out[name] = (
            keys.load_signer(str(folder / f"{name}.key"), {"COSIGN_PASSWORD": "pw"}),
            folder / f"{name}.pub",
        )
    return out


def push_image(reg: LocalRegistry, repository: str, content: str) -> str:
    """A real one-layer image (config, layer blob, OCI manifest) pushed to the registry; its digest."""
    client = Registry(reg.host, plain_http=True)
    layer = content.encode()
    layer_digest = client.put_blob(repository, layer)
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": len(config),
            "digest": client.put_blob(repository, config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "size": len(layer),
                "digest": layer_digest,
            }
        ],
    }
    return client.put_manifest(repository, content.split()[0], json.dumps(manifest).encode())


def gitops_with(tmp_path: Path, digest: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    bare, work = make_repo(tmp_path, ["orders"])
    path = work / overlay("orders", "dev")
    path.write_text(
        path.read_text().replace(
            'newTag: "0000001"   # short sha, quoted', f'newTag: "0000001"\n    digest: {digest}'
        )
    )
    git("commit", "-qam", "dev build", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)
    return bare


def promote(
    tmp_path: Path, bare: Path, reg: LocalRegistry, public_keys: list[Path], *, require_sbom: bool = False
):
    config = {
        "gitops": {"repo": str(bare)},
        "ecr": {"registry_override": reg.host},
        "signing": {"public_keys": [str(p) for p in public_keys], "require_sbom": require_sbom},
        "environments": {"dev": {}, "qa": {"promotion": "gated", "gates": ["signature"]}},
    }
    (tmp_path / "pipekit.yaml").write_text(yaml.safe_dump(config))
    return run_pipekit("promote", "--from", "dev", "--to", "qa", "--service", "orders", cwd=tmp_path)


def sign(reg: LocalRegistry, digest: str, signer: keys.Signer, identity: str = ORDERS) -> None:
    attach.sign(Registry(reg.host, plain_http=True), "orders", digest, identity, signer)


def test_gate_accepts_a_digest_signed_by_a_trusted_key(
    tmp_path: Path, registry: LocalRegistry, signers: dict
) -> None:
    digest = push_image(registry, "orders", "signed-by-ours 1")
    sign(registry, digest, signers["ours"][0])
    bare = gitops_with(tmp_path, digest)
    proc = promote(tmp_path, bare, registry, [signers["theirs"][1], signers["ours"][1]])
    assert proc.returncode == 0, proc.stderr
    assert f"digest: {digest}" in read(bare, overlay("orders", "qa"))


def test_gate_refuses_an_unsigned_digest_naming_it(
    tmp_path: Path, registry: LocalRegistry, signers: dict
) -> None:
    digest = push_image(registry, "orders", "unsigned 1")
    bare = gitops_with(tmp_path, digest)
    before = read(bare, overlay("orders", "qa"))
    proc = promote(tmp_path, bare, registry, [signers["ours"][1]])
    assert proc.returncode == 1, proc.stderr
    assert "refused by gate 'signature'" in proc.stderr and f"{ORDERS}@{digest}" in proc.stderr
    assert "no signature" in proc.stderr
    assert read(bare, overlay("orders", "qa")) == before


def test_gate_refuses_another_keys_signature_and_another_repositorys(
    tmp_path: Path, registry: LocalRegistry, signers: dict
) -> None:
    digest = push_image(registry, "orders", "signed-by-theirs 1")
    sign(registry, digest, signers["theirs"][0])
    proc = promote(tmp_path, gitops_with(tmp_path / "a", digest), registry, [signers["ours"][1]])
    assert proc.returncode == 1 and "verifies with the configured public keys" in proc.stderr, proc.stderr
    other = push_image(registry, "orders", "signed-for-elsewhere 1")
    sign(registry, other, signers["ours"][0], identity="123456789012.dkr.ecr.eu-west-1.amazonaws.com/billing")
    proc = promote(tmp_path, gitops_with(tmp_path / "b", other), registry, [signers["ours"][1]])
    assert proc.returncode == 1 and "signed for another repository" in proc.stderr, proc.stderr


def test_require_sbom_wants_a_signed_cyclonedx_attestation(
    tmp_path: Path, registry: LocalRegistry, signers: dict
) -> None:
    digest = push_image(registry, "orders", "sbom 1")
    signer = signers["ours"][0]
    sign(registry, digest, signer)
    bare = gitops_with(tmp_path, digest)
    proc = promote(tmp_path, bare, registry, [signers["ours"][1]], require_sbom=True)
    assert proc.returncode == 1 and "no SBOM attestation" in proc.stderr, proc.stderr
    client = Registry(registry.host, plain_http=True)
    attach.attest(
        client, "orders", digest, ORDERS, signers["theirs"][0], payload.PREDICATE_CYCLONEDX, {"a": 1}
    )
    proc = promote(tmp_path, bare, registry, [signers["ours"][1]], require_sbom=True)
    assert proc.returncode == 1, "an SBOM signed by an untrusted key does not count"
    attach.attest(
        client,
        "orders",
        digest,
        ORDERS,
        signer,
        payload.PREDICATE_CYCLONEDX,
        {"bomFormat": "CycloneDX", "specVersion": "1.6"},
    )
    proc = promote(tmp_path, bare, registry, [signers["ours"][1]], require_sbom=True)
    assert proc.returncode == 0, proc.stderr


def cosign_sig_manifest(
    reg: LocalRegistry, repository: str, signature_file: Path, *, tamper: bool = False
) -> str:
    """Store a cosign-made signature as cosign does (a .sig manifest with one simple-signing layer)."""
    raw = signature_file.read_bytes()
    data = json.loads(raw[raw.index(b"\n") + 1 :])
    body = base64.b64decode(data["payload"])
    digest = str(json.loads(body)["critical"]["image"]["docker-manifest-digest"])
    if tamper:  # the same signature over a payload naming another image
        body = body.replace(digest.encode(), b"sha256:" + b"2" * 64)
    layer = store.Layer(data["mimeType"], "", 0, dict(data["annotations"]), body)
    client = Registry(reg.host, plain_http=True)
    store.append(client, repository, store.tag_for(digest, "sig"), [], [layer])
    return digest


def gate(reg: LocalRegistry, tmp_path: Path, reference: str, public_keys: list[str]) -> object:
    config = Config(
        {"ecr": {"registry_override": reg.host}, "signing": {"public_keys": public_keys}},
        tmp_path / "pipekit.yaml",
    )
    ctx = SimpleNamespace(env={}, config=config)
    return signature.evaluate(GateRequest("dev", "qa", {"sample": reference}), ctx)  # type: ignore[arg-type]


def test_gate_verifies_real_cosign_signatures_and_rejects_tampered_ones(
    tmp_path: Path, registry: LocalRegistry
) -> None:
    repository = "cosign-signed-single-sample"
    digest = cosign_sig_manifest(registry, repository, FIXTURES / "dir-img-cosign-valid" / "signature-1")
    reference = f"192.168.64.2:5000/{repository}@{digest}"  # the identity cosign signed
    cosign_pub, cosign2_pub = str(FIXTURES / "cosign.pub"), str(FIXTURES / "cosign2.pub")
    result = gate(registry, tmp_path, reference, [cosign_pub])
    assert result.passed, result  # type: ignore[attr-defined]
    refused = gate(registry, tmp_path, reference, [cosign2_pub])
    assert not refused.passed and "none of its 1 signature(s) verifies" in refused.reason  # type: ignore[attr-defined]
    # cosign's key+Rekor signature by the key of cosign2.pub (its bundle annotation is ignored)
    keyed = cosign_sig_manifest(
        registry, "cosign-signed/key-1", FIXTURES / "dir-img-cosign-key-rekor-valid" / "signature-1"
    )
    assert gate(registry, tmp_path, f"192.168.64.2:5000/cosign-signed/key-1@{keyed}", [cosign2_pub]).passed  # type: ignore[attr-defined]
    # a tampered copy, stored in its own repository
    tampered = "cosign-tampered-sample"
    cosign_sig_manifest(registry, tampered, FIXTURES / "dir-img-cosign-valid" / "signature-1", tamper=True)
    result = gate(registry, tmp_path, f"192.168.64.2:5000/{tampered}@{digest}", [cosign_pub])
    assert not result.passed  # type: ignore[attr-defined]
