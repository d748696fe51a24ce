"""Embed docs/bitbucket-pipelines.example.yml into README.md between its markers.

    .venv/bin/python scripts/sync_readme.py
The test suite checks that the README carries the current example.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- bitbucket -->", "<!-- /bitbucket -->"


def main() -> None:
    readme = ROOT / "README.md"
    example = (ROOT / "docs" / "bitbucket-pipelines.example.yml").read_text()
    block = f"{START}\n```yaml\n{example.rstrip()}\n```\n{END}"
    text = readme.read_text()
    if END in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.replace(START, block)
    readme.write_text(text)


if __name__ == "__main__":
    main()
