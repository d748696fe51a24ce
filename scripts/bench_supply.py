#!/usr/bin/env python3
"""Benchmark for issue 27's figures: signing one digest <= 0.5 s against the local registry, the SBOM of
the sample service <= 30 s, the signature gate's check <= 0.3 s.

- sign: a fresh digest per round in a local docker-registry; the key loaded from a cosign key file
  (scrypt at cosign's N=65536, COSIGN_PASSWORD) and the signature written as cosign does
  (pipekit.signing: load_signer + attach.sign), median of N; also attach.sign alone.
- sbom: `pipekit sbom --maven-offline --scope all --image <sample image> --container-tool buildah` on
  the rehearsal's sample service (a fresh CLI process; Maven's tree and cdxgen on the project and
  on the image), median of N (default 3).
- gate: promote's signature gate (pipekit.promotion.signature.evaluate) on one signed digest: the
  public key read, the .sig manifest and blob read and verified, median of N.

    .venv/bin/python scripts/bench_supply.py [--runs 5] [--sbom-runs 3] [--skip-sbom]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipekit.clients.oci import Registry  # noqa: E402
from pipekit.core.config import Config  # noqa: E402
from pipekit.promotion import signature  # noqa: E402
from pipekit.promotion.gates import GateRequest  # noqa: E402
from pipekit.signing import attach, cosign_keys, keys  # noqa: E402
from pipekit.testing.registry import LocalRegistry  # noqa: E402

IDENTITY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders"


def push_image(client: Registry, content: str) -> str:
    layer = content.encode()
    layer_digest = client.put_blob("orders", layer)
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": len(config),
            "digest": client.put_blob("orders", config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "size": len(layer),
                "digest": layer_digest,
            }
        ],
    }
    return client.put_manifest("orders", content, json.dumps(manifest).encode())


def bench_sign_and_gate(runs: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with LocalRegistry() as reg, tempfile.TemporaryDirectory() as tmp:
        private, public = cosign_keys.generate(b"bench-password")  # cosign's N=65536
        key, pub = Path(tmp) / "cosign.key", Path(tmp) / "cosign.pub"
        key.write_text(private)
        pub.write_text(public)
        client = Registry(reg.host, plain_http=True)
        env = {"COSIGN_PASSWORD": "bench-password"}
        full, sign_only, gate = [], [], []
        for n in range(runs):
            digest = push_image(client, f"bench-{n}-{uuid.uuid4().hex[:6]}")
            started = time.perf_counter()
            signer = keys.load_signer(str(key), env)
            attach.sign(client, "orders", digest, IDENTITY, signer)
            full.append(time.perf_counter() - started)
            other = push_image(client, f"bench-only-{n}-{uuid.uuid4().hex[:6]}")
            started = time.perf_counter()
            attach.sign(client, "orders", other, IDENTITY, signer)
            sign_only.append(time.perf_counter() - started)
            ctx = SimpleNamespace(
                env={},
                config=Config(
                    {"ecr": {"registry_override": reg.host}, "signing": {"public_keys": [str(pub)]}},
                    Path(tmp) / "pipekit.yaml",
                ),
            )
            started = time.perf_counter()
            result = signature.evaluate(GateRequest("dev", "qa", {"orders": f"{IDENTITY}@{digest}"}), ctx)  # type: ignore[arg-type]
            gate.append(time.perf_counter() - started)
            assert result.passed, result
        out["sign (key load + sign + upload)"] = statistics.median(full)
        out["sign (upload only, key loaded)"] = statistics.median(sign_only)
        out["gate check (one image)"] = statistics.median(gate)
    return out


def bench_sbom(runs: int) -> float | None:
    cdxgen = os.environ.get("PIPEKIT_CDXGEN") or str(
        ROOT / ".venv" / "cdxgen" / "node_modules" / ".bin" / "cdxgen"
    )
    if not (Path(cdxgen).exists() and shutil.which("buildah") and shutil.which("mvn")):
        print("sbom: skipped (needs cdxgen in .venv/cdxgen, buildah and mvn)", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "demo"
        shutil.copytree(ROOT / "pipekit" / "rehearsal" / "sample", work)
        subprocess.run(
            ["mvn", "-o", "-B", "-q", "package", "-DskipTests"], cwd=work, check=True, capture_output=True
        )
        image = f"localhost/pipekit-bench-sbom-{uuid.uuid4().hex[:8]}:1.0.0"
        subprocess.run(
            ["buildah", "bud", "-q", "--layers=false", "-t", image, str(work)],
            check=True,
            capture_output=True,
        )
        env = {
            **os.environ,
            "PIPEKIT_CDXGEN": cdxgen,
            "PIPEKIT_RUN_RECORD": str(Path(tmp) / "run.json"),
            "PYTHONPATH": str(ROOT),
        }
        times = []
        try:
            for _ in range(runs):
                started = time.perf_counter()
                proc = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pipekit",
                        "sbom",
                        "--maven-offline",
                        "--scope",
                        "all",
                        "--image",
                        image,
                        "--container-tool",
                        "buildah",
                    ],
                    cwd=work,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                times.append(time.perf_counter() - started)
                if proc.returncode != 0:
                    print(proc.stderr, file=sys.stderr)
                    return None
        finally:
            subprocess.run(["buildah", "rmi", image], capture_output=True)
        return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sbom-runs", type=int, default=3)
    parser.add_argument("--skip-sbom", action="store_true")
    args = parser.parse_args()
    figures = bench_sign_and_gate(args.runs)
    bounds = {"sign (key load + sign + upload)": 0.5, "gate check (one image)": 0.3}
    for name, value in figures.items():
        bound = bounds.get(name)
        print(f"{name:<34} {value:6.3f} s" + (f"   (bound {bound} s)" if bound else ""))
    ok = all(figures[k] <= b for k, b in bounds.items())
    if not args.skip_sbom:
        sbom = bench_sbom(args.sbom_runs)
        if sbom is not None:
            print(f"{'sbom of the sample service (CLI)':<34} {sbom:6.3f} s   (bound 30 s)")
            ok = ok and sbom <= 30
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
