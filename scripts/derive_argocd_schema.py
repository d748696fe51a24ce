#!/usr/bin/env python3
"""Derive the Argo CD Application/AppProject schema init ships from Argo CD's swagger.

    .venv/bin/python scripts/derive_argocd_schema.py [SWAGGER] [OUT]

SWAGGER defaults to ../shared/schemas/argocd-v3.5.1-swagger.json (argoproj/argo-cd v3.5.1,
assets/swagger.json, Apache-2.0); OUT to
pipekit/onboarding/public_schemas/argocd-v3.5.1-application.schema.json. Only the definitions the two kinds
reach are kept, made strict by pipekit.onboarding.schemas.derive.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipekit.onboarding import schemas  # noqa: E402


def main(argv: list[str]) -> int:
    swagger = Path(argv[0]) if argv else ROOT.parent / "shared" / "schemas" / schemas.ARGOCD
    out = Path(argv[1]) if len(argv) > 1 else schemas.SHIPPED / schemas.ARGOCD_SHAPES_FILE
    derived = schemas.derive(json.loads(swagger.read_text(encoding="utf-8")))
    out.write_text(json.dumps(derived, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{out}: {len(derived['definitions'])} definitions from {swagger}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
