"""Tool probes: run a tool's own version command and parse what it says, robustly.

Each probe knows one tool's quirks: ``java -version`` writes to stderr and may be preceded by
``Picked up JAVA_TOOL_OPTIONS``; ``mvn -v`` emits ANSI codes even when piped and names the JDK it
runs on; ``kubectl`` and ``argocd`` answer in JSON; ``aws --version`` differs between v1 and v2;
a ``yq`` that is the Python wrapper is the wrong tool, whatever its version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipekit.core import process
from pipekit.core.errors import BadInput, PipekitError

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# A version command is local and quick, but on a loaded 2-core runner the JVM tools (java, mvn)
# and their neighbours started in parallel took over 10 s (CI run of stop 18): a probe only times
# out when a tool really hangs.
PROBE_TIMEOUT_S = 60.0


@dataclass
class Reading:
    """What a tool said about itself."""

    version: str | None
    wrong_tool: str | None = None  # e.g. "the Python yq wrapper, not mikefarah's yq"
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Probe:
    command: str
    args: tuple[str, ...]
    parse: Callable[[str, str], Reading]  # (stdout, stderr) -> Reading


def _first(pattern: str, text: str) -> str | None:
    m = re.search(pattern, text, re.M)
    return m.group(1) if m else None


def parse_java(out: str, err: str) -> Reading:
    text = "\n".join(
        line
        for line in (err + "\n" + out).splitlines()
        if not line.startswith(("Picked up ", "NOTE: Picked up"))
    )
    version = _first(r'^\S+ version "([^"]+)"', text)
    runtime = _first(r"^(.*Runtime Environment.*)$", text)
    return Reading(version, details={"runtime": runtime.strip()} if runtime else {})


def parse_maven(out: str, err: str) -> Reading:
    text = ANSI.sub("", out + "\n" + err)
    version = _first(r"^Apache Maven (\S+)", text)
    details = {}
    java = _first(r"^Java version: ([^,\s]+)", text)
    if java:
        details["java"] = java
    home = _first(r"runtime: (\S+)", text)
    if home:
        details["java_home"] = home
    return Reading(version, details=details)


def _json(out: str) -> dict[str, Any]:
    start = out.find("{")
    try:
        data = json.loads(out[start:]) if start >= 0 else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def parse_kubectl(out: str, err: str) -> Reading:
    data = _json(out)
    version = (data.get("clientVersion") or {}).get("gitVersion")
    details = {"kustomize": str(data["kustomizeVersion"]).lstrip("v")} if data.get("kustomizeVersion") else {}
    return Reading(version.lstrip("v") if version else None, details=details)


def parse_argocd(out: str, err: str) -> Reading:
    data = _json(out)
    client = data.get("client") or {}
    version = client.get("Version") or client.get("version")
    return Reading(re.split(r"[+]", version.lstrip("v"))[0] if version else None)


def parse_aws(out: str, err: str) -> Reading:
    text = out + "\n" + err
    version = _first(r"aws-cli/(\S+)", text)
    if version and not version.startswith("2."):
        return Reading(version, wrong_tool=f"AWS CLI v1 ({version}); the image promises AWS CLI v2")
    return Reading(version)


def parse_yq(out: str, err: str) -> Reading:
    text = out + "\n" + err
    if "mikefarah" in text:
        return Reading(_first(r"version v?(\S+)", text))
    python = _first(r"^yq (\S+)$", text.strip())
    return Reading(
        python,
        wrong_tool=f"the Python yq wrapper{f' {python}' if python else ''} (jq-based), not mikefarah's Go yq",
    )


def _word_after(prefix: str) -> Callable[[str, str], Reading]:
    def parse(out: str, err: str) -> Reading:
        text = ANSI.sub("", out + "\n" + err)
        return Reading(_first(prefix + r"v?([0-9][0-9A-Za-z.]*)", text))

    return parse


def parse_docker(out: str, err: str) -> Reading:
    return Reading(_first(r"Docker version ([0-9][0-9.]*)", out + err))


def parse_dpkg(out: str, err: str) -> Reading:
    return Reading(out.strip() or None)


PROBES: dict[str, Probe] = {
    "java": Probe("java", ("-version",), parse_java),
    "maven": Probe("mvn", ("-v",), parse_maven),
    "kubectl": Probe("kubectl", ("version", "--client", "-o", "json"), parse_kubectl),
    "kustomize": Probe("kustomize", ("version",), _word_after(r"^(?:\{Version:kustomize/)?")),
    "argocd": Probe("argocd", ("version", "--client", "-o", "json"), parse_argocd),
    "aws": Probe("aws", ("--version",), parse_aws),
    "yq": Probe("yq", ("--version",), parse_yq),
    "git": Probe("git", ("--version",), _word_after(r"git version ")),
    "jq": Probe("jq", ("--version",), _word_after(r"jq-")),
    "curl": Probe("curl", ("--version",), _word_after(r"^curl ")),
    "buildah": Probe("buildah", ("--version",), _word_after(r"buildah version ")),
    "skopeo": Probe("skopeo", ("--version",), _word_after(r"skopeo version ")),
    "python3": Probe("python3", ("--version",), _word_after(r"Python ")),
    "docker": Probe("docker", ("--version",), parse_docker),
    # --disable-version-check: offline, semgrep --version waits ~24 s for semgrep.dev before answering
    "semgrep": Probe("semgrep", ("--version", "--disable-version-check"), _word_after(r"^")),
    "trivy": Probe("trivy", ("--version",), _word_after(r"^Version: ")),
}
# manifest tool name -> probe name, where they differ
ALIASES = {"temurin-21": "java", "openjdk-17-jdk-headless": "java", "openjdk-21-jdk-headless": "java"}


def probe_for(tool: str, kind: str) -> Probe | None:
    """The probe of a manifest tool; a Debian package without one is read from dpkg; None: unknown."""
    probe = PROBES.get(ALIASES.get(tool, tool))
    if probe is None and kind == "debian":
        return Probe("dpkg-query", ("-W", "-f=${Version}", tool), parse_dpkg)
    return probe


def read(probe: Probe, executable: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> Reading:
    """Run the probe. A missing executable raises BadInput (the caller reports it as a failed check)."""
    import os

    result = process.run(
        [executable or probe.command, *probe.args],
        check=False,
        timeout=timeout,
        env={**os.environ, "LC_ALL": "C"},
    )
    reading = probe.parse(result.stdout, result.stderr)
    lines = (result.stderr or result.stdout).strip().splitlines()
    if reading.version is None and lines:
        reading.details["error"] = lines[-1][:200]
    return reading


def probe_version(tool: str, executable: str) -> str | None:
    """The version ``executable`` reports as ``tool`` (None when it cannot say)."""
    probe = probe_for(tool, "download")
    if probe is None:
        raise BadInput(f"no version probe for tool {tool!r}")
    try:
        return read(probe, executable).version
    except PipekitError:
        return None
