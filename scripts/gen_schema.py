#!/usr/bin/env python3
"""Write pipekit/core/schema/pipekit.schema.json from the steps' option declarations.

    .venv/bin/python scripts/gen_schema.py          # write it
    .venv/bin/python scripts/gen_schema.py --check  # exit 1 when the committed file differs

Run it after adding or changing an option with a pipekit.yaml key, or a definition in
pipekit/core/schema/defs.json; tests/core/test_config_schema.py fails until the file is regenerated.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipekit.cli import option_tables  # noqa: E402
from pipekit.core import config_schema  # noqa: E402


def main() -> int:
    text = config_schema.dump(config_schema.generate(option_tables().values()))
    if "--check" in sys.argv[1:]:
        same = config_schema.GENERATED.read_text(encoding="utf-8") == text
        print(
            f"{config_schema.GENERATED}: " + ("up to date" if same else "differs: run scripts/gen_schema.py")
        )
        return 0 if same else 1
    config_schema.GENERATED.write_text(text, encoding="utf-8")
    print(f"wrote {config_schema.GENERATED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
