"""Generate a large SARIF 2.1.0 file for the scan benchmark.

    .venv/bin/python scripts/gen_sarif.py OUT.sarif [--results 200000] [--seed 7]

Realistic shape: one run, a rule table with ``security-severity`` scores, results with
message, physical location (uri + region), ``partialFingerprints`` and a few properties.
About 350 bytes a result: 200,000 results make about 70 MB.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

LEVELS = ["error", "warning", "note"]


def rules(count: int, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        score = round(rng.uniform(0.5, 10.0), 1)
        out.append(
            {
                "id": f"java.lang.security.rule-{i:03d}",
                "name": f"Rule{i:03d}",
                "shortDescription": {"text": f"Security rule number {i}"},
                "defaultConfiguration": {"level": LEVELS[i % 3]},
                "properties": {"security-severity": str(score), "tags": ["security", f"CWE-{100 + i}"]},
            }
        )
    return out


def write(path: Path, results: int, seed: int) -> int:
    rng = random.Random(seed)
    rule_list = rules(50, rng)
    with path.open("w", encoding="utf-8") as fh:
        head = {
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {"driver": {"name": "benchgen", "version": "1.0.0", "rules": rule_list}},
                    "results": [],
                }
            ],
        }
        text = json.dumps(head)
        prefix, suffix = text.rsplit('"results": []', 1)
        fh.write(prefix + '"results": [')
        for n in range(results):
            r = rng.randrange(50)
            line = rng.randrange(1, 4000)
            result = {
                "ruleId": rule_list[r]["id"],
                "ruleIndex": r,
                "level": LEVELS[r % 3],
                "message": {"text": f"Tainted data reaches a sink in handle{n % 977}()"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {
                                "uri": f"src/main/java/com/example/m{n % 131}/Handler{n % 1009}.java"
                            },
                            "region": {
                                "startLine": line,
                                "startColumn": rng.randrange(1, 80),
                                "endLine": line + 1,
                            },
                        }
                    }
                ],
                "partialFingerprints": {"primaryLocationLineHash": f"{rng.getrandbits(64):016x}:1"},
            }
            fh.write(("," if n else "") + json.dumps(result))
        fh.write("]" + suffix)
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--results", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    size = write(args.out, args.results, args.seed)
    print(f"{args.out}: {args.results} results, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
