"""The real parts the suite depends on are installed.

Some tests skip when a tool is missing so that a developer can run the rest on a partial
machine; this test makes such a machine fail loudly instead of passing green with skips.
`scripts/dev` installs all of these (kubectl ships with the machine image).
"""

from __future__ import annotations

import shutil

import pytest

TOOLS = [
    "git",
    "mvn",
    "java",
    "buildah",
    "skopeo",
    "docker-registry",
    "kubectl",
    "openssl",
    "setpriv",
    "jq",
    "gpg",
    "mmdebstrap",
]


@pytest.mark.parametrize("tool", TOOLS)
def test_tool_is_installed(tool: str) -> None:
    assert shutil.which(tool), f"{tool} is not on PATH: run scripts/dev bootstrap"
