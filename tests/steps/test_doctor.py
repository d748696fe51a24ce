"""pipekit doctor against this machine's real mvn, java, kubectl, git and jq, and real local endpoints."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pipekit.diagnostics import tools
from tests.conftest import REPO_ROOT

PIPEKIT = [sys.executable, "-m", "pipekit"]


def dpkg_version(package: str) -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def upstream(debian_version: str) -> str:
    return debian_version.split(":", 1)[-1].rsplit("-", 1)[0]


def kubectl_plain_version() -> str:
    # `kubectl version --client` in its plain form (doctor parses the JSON form)
    out = subprocess.run(
        ["kubectl", "version", "--client"], capture_output=True, text=True, check=True
    ).stdout
    return re.search(r"Client Version: v(\S+)", out).group(1)  # type: ignore[union-attr]


def java_package() -> str:
    return "openjdk-17-jdk-headless"


def machine_manifest(tmp_path: Path, *, wrong: bool = False) -> Path:
    """A manifest of this machine's tools; with ``wrong`` every version is one this machine lacks."""
    java = upstream(dpkg_version(java_package())).split("+")[0]
    versions = {
        "maven": upstream(dpkg_version("maven")),
        "java": java,
        "kubectl": kubectl_plain_version(),
        "git": upstream(dpkg_version("git")),
        "jq": upstream(dpkg_version("jq")),
    }
    if wrong:
        versions = {name: "9.9.9" for name in versions}
    text = f"""
tools:
  maven: {{version: "{versions["maven"]}", kind: debian}}
  {java_package()}: {{version: "{dpkg_version(java_package())}", kind: debian, reports: "{versions["java"]}"}}
  kubectl: {{version: "v{versions["kubectl"]}", kind: download, url: "https://dl.k8s.io/{{version}}/{{arch}}/kubectl",
             format: binary, sha256: {{amd64: "{"a" * 64}", arm64: "{"b" * 64}"}}}}
  git: {{version: "{dpkg_version("git") if not wrong else "1:9.9.9-1"}", kind: debian}}
  jq: {{version: "{dpkg_version("jq") if not wrong else "9.9.9-1"}", kind: debian}}
"""
    if wrong:
        text = text.replace(f'reports: "{java}"', 'reports: "9.9.9"')
    path = tmp_path / ("wrong.yaml" if wrong else "machine.yaml")
    path.write_text(text)
    return path


def doctor(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        [*PIPEKIT, "doctor", *args], capture_output=True, text=True, env=full, cwd=cwd or REPO_ROOT
    )


@pytest.mark.slow
def test_matching_manifest_passes_on_this_machine(tmp_path: Path):
    out = doctor("--manifest", str(machine_manifest(tmp_path)), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout)
    statuses = {c["name"]: c["status"] for c in result["checks"]}
    assert statuses == {
        "tool:maven": "ok",
        "tool:openjdk-17-jdk-headless": "ok",
        "tool:kubectl": "ok",
        "tool:git": "ok",
        "tool:jq": "ok",
    }
    maven = next(c for c in result["checks"] if c["name"] == "tool:maven")
    assert maven["details"]["java"].startswith("17.")  # the JDK Maven runs on, from `mvn -v`


@pytest.mark.slow
def test_mismatching_manifest_exits_1_listing_every_wrong_tool(tmp_path: Path):
    out = doctor("--manifest", str(machine_manifest(tmp_path, wrong=True)), "--json", cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    payload = json.loads(out.stdout)
    failed = {c["name"] for c in payload["result"]["checks"] if c["status"] == "fail"}
    assert failed == {"tool:maven", "tool:openjdk-17-jdk-headless", "tool:kubectl", "tool:git", "tool:jq"}
    assert "9.9.9 is promised" in payload["error"] and "tool:kubectl" in payload["error"]


@pytest.mark.slow
def test_table_marks_and_fix_on_the_terminal_output(tmp_path: Path):
    out = doctor(
        "--manifest", str(machine_manifest(tmp_path, wrong=True)), "--check", "tool:jq", cwd=tmp_path
    )
    assert out.returncode == 1
    line = next(line for line in out.stdout.splitlines() if "tool:jq" in line)
    assert line.startswith("✗") and "install jq 9.9.9" in line


@pytest.mark.slow
def test_check_filter_and_list(tmp_path: Path):
    manifest = str(machine_manifest(tmp_path))
    listed = doctor("--manifest", manifest, "--list-checks", cwd=tmp_path)
    assert listed.returncode == 0
    assert "tool:kubectl  (tools)" in listed.stdout
    one = doctor("--manifest", manifest, "--check", "tool:git", "--json", cwd=tmp_path)
    assert [c["name"] for c in json.loads(one.stdout)["checks"]] == ["tool:git"]
    unknown = doctor("--manifest", manifest, "--check", "tool:nope", cwd=tmp_path)
    assert unknown.returncode == 2 and "--check tool:nope" in unknown.stderr


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("tools: [unclosed", "malformed YAML"),
        ("tools: " + "[" * 50_000 + "]" * 50_000, "nesting depth"),
        (
            "tools:\n  helm: {version: v3.16.0, kind: download, url: 'https://x/{version}', format: binary,"
            " sha256: {amd64: '" + "a" * 64 + "', arm64: '" + "b" * 64 + "'}}\n",
            "unknown tool 'helm'",
        ),
        (
            "tools:\n  kubectl: {version: v1.32.5, kind: download, url: "
            "'https://x/{version}', format: binary,"
            " sha256: {amd64: '" + "a" * 64 + "'}}\n",
            "tools.kubectl: no checksum for arm64",
        ),
        ("tools:\n  git: {kind: debian}\n", "tools.git.version is missing"),
    ],
)
def test_bad_manifest_is_exit_2_naming_it(tmp_path: Path, text: str, needle: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    out = doctor("--manifest", str(path), cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert needle in out.stderr and "bad.yaml" in out.stderr


@pytest.mark.slow
def test_image_mode_reads_the_image_manifest_and_skips_left_out_tools(tmp_path: Path):
    image = {
        "schema": 1,
        "image": {"pipekit": "0.1.0", "local": True},
        "variant": "jdk17",
        "tools": {
            "git": {"version": dpkg_version("git"), "kind": "debian"},
            "argocd": {
                "version": "v3.1.9",
                "kind": "download",
                "included": False,
                "note": "left out of the local variant",
            },
        },
    }
    path = tmp_path / "image.json"
    path.write_text(json.dumps(image))
    out = doctor("--image", "--json", "--check", "tools", env={"PIPEKIT_IMAGE_JSON": str(path)}, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert checks["tool:git"]["status"] == "ok"
    assert checks["tool:argocd"]["status"] == "skip" and "left out" in checks["tool:argocd"]["summary"]
    missing = doctor("--image", env={"PIPEKIT_IMAGE_JSON": str(tmp_path / "none.json")}, cwd=tmp_path)
    assert missing.returncode == 2 and "none.json does not exist" in missing.stderr


def test_image_mode_checks_every_command_the_generated_pipeline_calls(tmp_path: Path):
    """Issue 21 item 2: the image holds what init's pipeline and PostSync Job run (this machine's real
    programs on a PATH of their own; trivy is not on this machine, as it is not in the local image)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    for program in ("git", "kubectl", "docker", "mvn", "pipekit", "semgrep"):
        found = shutil.which(program, path=search)
        assert found, f"{program} is on this machine (scripts/dev bootstrap)"
        (bin_dir / program).symlink_to(found)
    image = {
        "schema": 1,
        "image": {"pipekit": "0.1.0", "local": True},
        "variant": "jdk17",
        "tools": {
            "trivy": {
                "version": "0.62.1",
                "kind": "download",
                "included": False,
                "note": "left out of the local variant: only an upstream release server provides it",
            }
        },
    }
    path = tmp_path / "image.json"
    path.write_text(json.dumps(image))
    env = {"PIPEKIT_IMAGE_JSON": str(path), "PATH": str(bin_dir)}
    out = doctor("--image", "--json", "--check", "pipeline", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert {"pipeline:semgrep", "pipeline:mvn", "pipeline:docker", "pipeline:kubectl", "pipeline:git"} <= set(
        checks
    )
    assert all(c["status"] == "ok" for name, c in checks.items() if name != "pipeline:trivy")
    assert (
        checks["pipeline:trivy"]["status"] == "warn"
        and "pipekit scan --run trivy" in checks["pipeline:trivy"]["summary"]
    )
    image["tools"] = {"git": {"version": dpkg_version("git"), "kind": "debian"}}  # no word of trivy
    path.write_text(json.dumps(image))
    out = doctor("--image", "--check", "pipeline", env=env, cwd=tmp_path)
    assert out.returncode == 1
    assert (
        "pipeline:trivy: trivy is not on PATH, but the generated pipeline runs it: pipekit scan" in out.stderr
    )


# -- parsers, on the shapes the real tools print ------------------------------------------------------


def test_java_version_on_stderr_after_picked_up():
    err = (
        'Picked up JAVA_TOOL_OPTIONS: -Xmx512m\nopenjdk version "21.0.12" 2026-07-15 LTS\n'
        "OpenJDK Runtime Environment Temurin-21.0.12+8 (build 21.0.12+8-LTS)\n"
    )
    assert tools.parse_java("", err).version == "21.0.12"


def test_maven_ansi_codes_and_its_jdk():
    out = (
        "\x1b[1mApache Maven 3.9.9 (8e8579a9e76f7d015ee5ec7bfcdc97d260186937)\x1b[0m\n"
        "Maven home: /opt/maven\nJava version: 21.0.12, vendor: Eclipse Adoptium, runtime: "
        "/opt/java/temurin-21\n"
    )
    reading = tools.parse_maven(out, "")
    assert reading.version == "3.9.9"
    assert reading.details == {"java": "21.0.12", "java_home": "/opt/java/temurin-21"}


def test_aws_v1_is_the_wrong_tool_and_v2_is_read():
    v1 = tools.parse_aws("aws-cli/1.33.0 Python/3.11.2 Linux/6.1.0 botocore/1.34.0\n", "")
    assert v1.wrong_tool and "v1" in v1.wrong_tool
    v2 = tools.parse_aws("aws-cli/2.22.35 Python/3.12.6 Linux/6.1.0 exe/x86_64.debian.12\n", "")
    assert v2.version == "2.22.35" and v2.wrong_tool is None


def test_python_yq_wrapper_is_the_wrong_tool():
    assert tools.parse_yq("yq 3.1.0\n", "").wrong_tool
    go = tools.parse_yq("yq (https://github.com/mikefarah/yq/) version v4.47.2\n", "")
    assert go.version == "4.47.2" and go.wrong_tool is None


def test_semgrep_probe_does_not_wait_for_semgrep_dev():
    # The real semgrep (tests/scanners.txt), offline as this machine is: a plain `semgrep --version`
    # waits about 24 s for its version check before answering; the probe turns the check off.
    import time

    semgrep = shutil.which("semgrep") or str(REPO_ROOT / ".venv" / "bin" / "semgrep")
    expected = subprocess.run(
        [semgrep, "--version", "--disable-version-check"], capture_output=True, text=True, check=True
    ).stdout.strip()
    started = time.monotonic()
    reading = tools.read(tools.PROBES["semgrep"], semgrep)
    assert reading.version == expected
    assert time.monotonic() - started < 10


def test_this_machines_yq_is_reported_as_the_wrong_tool():
    reading = tools.read(tools.PROBES["yq"])
    assert reading.wrong_tool and "Python yq wrapper" in reading.wrong_tool


def test_argocd_and_kubectl_json():
    argocd = tools.parse_argocd('{"client": {"Version": "v3.1.9+8665140", "Platform": "linux/amd64"}}', "")
    assert argocd.version == "3.1.9"
    kubectl = tools.parse_kubectl(
        '{"clientVersion": {"gitVersion": "v1.32.5"}, "kustomizeVersion": "v5.5.0"}', ""
    )
    assert kubectl.version == "1.32.5" and kubectl.details["kustomize"] == "5.5.0"


# -- endpoints named by the config ----------------------------------------------------------------------


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipekit.yaml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_argocd_endpoint_answers_and_token_is_never_printed(tmp_path: Path):
    from pipekit.testing.argocd.server import ArgoCDStandIn

    with ArgoCDStandIn() as argo:
        config = _config(tmp_path, f"argocd:\n  server: {argo.server}\n  plaintext: true\n")
        env = {"ARGOCD_AUTH_TOKEN": argo.token}
        out = doctor("--config", str(config), "--check", "endpoint:argocd", "--json", env=env, cwd=tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
        check = json.loads(out.stdout)["checks"][0]
        assert check["status"] == "ok" and "v3.5.1" in check["summary"]
        assert argo.token not in out.stdout + out.stderr
        bad = doctor(
            "--config",
            str(config),
            "--check",
            "endpoint:argocd",
            env={"ARGOCD_AUTH_TOKEN": "wrong"},
            cwd=tmp_path,
        )
        assert bad.returncode == 1 and "rejects ARGOCD_AUTH_TOKEN" in bad.stdout
        none = doctor("--config", str(config), "--check", "endpoint:argocd", cwd=tmp_path)
        assert none.returncode == 1 and "no credentials" in none.stdout


@pytest.mark.slow
def test_gitops_repository_answers_ls_remote(tmp_path: Path, git_repo: Path):
    config = _config(tmp_path, f"gitops:\n  repo: {git_repo}\n")
    out = doctor("--config", str(config), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "default branch main" in json.loads(out.stdout)["checks"][0]["summary"]
    config.write_text(f"gitops:\n  repo: {tmp_path / 'missing'}\n")
    assert doctor("--config", str(config), cwd=tmp_path).returncode == 1


@pytest.mark.slow
def test_webhook_host_gets_a_connection_and_no_post(tmp_path: Path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received: list[bytes] = []

    def accept() -> None:
        conn, _ = server.accept()
        conn.settimeout(1)
        try:
            received.append(conn.recv(100))
        except OSError:
            received.append(b"")
        conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    secret_url = f"http://127.0.0.1:{server.getsockname()[1]}/webhookb2/SECRET-PART"
    config = _config(
        tmp_path, "notify:\n  channels:\n    - {name: team, type: teams, webhook_env: TEAM_HOOK}\n"
    )
    out = doctor("--config", str(config), "--json", env={"TEAM_HOOK": secret_url}, cwd=tmp_path)
    thread.join(3)
    server.close()
    assert out.returncode == 0, out.stdout + out.stderr
    assert received == [b""]  # connected, nothing sent
    assert "SECRET-PART" not in out.stdout + out.stderr
    unset = doctor("--config", str(config), cwd=tmp_path)
    assert unset.returncode == 1 and "TEAM_HOOK is not set" in unset.stdout


@pytest.mark.slow
def test_aws_credentials_answer_sts_and_secrets_stay_hidden(tmp_path: Path):
    from pipekit.testing.moto import MotoServer

    with MotoServer() as moto:
        env = moto.aws_env()
        out = doctor("--check", "aws", "--json", env=env, cwd=tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "STS answered: account" in json.loads(out.stdout)["checks"][0]["summary"]
        assert env["AWS_SECRET_ACCESS_KEY"] not in out.stdout + out.stderr
    down = doctor("--check", "aws", "--timeout", "1", env=env, cwd=tmp_path)
    assert down.returncode == 1 and "STS did not answer" in down.stdout


@pytest.mark.slow
def test_jira_site_answers_server_info(tmp_path: Path):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str] = []

    class Jira(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            seen.append(self.headers.get("Authorization", ""))
            ok = self.path == "/rest/api/2/serverInfo" and self.headers.get("Authorization")
            body = json.dumps({"version": "10.3.0", "deploymentType": "Server"} if ok else {}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jira)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = _config(tmp_path, "version: 1\n")
        env = {
            "JIRA_BASE_URL": f"http://127.0.0.1:{server.server_address[1]}",
            "JIRA_USER_EMAIL": "ci@example.com",
            "JIRA_API_TOKEN": "jira-secret-token",
        }
        out = doctor("--config", str(config), "--check", "jira", "--json", env=env, cwd=tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
        assert json.loads(out.stdout)["checks"][0]["summary"] == "Jira 10.3.0 answered"
        assert seen[0].startswith("Basic ") and "jira-secret-token" not in out.stdout + out.stderr
        missing = doctor("--check", "jira", env={**env, "JIRA_API_TOKEN": ""}, cwd=tmp_path)
        assert missing.returncode == 1 and "JIRA_API_TOKEN is not set" in missing.stdout
    finally:
        server.shutdown()
        server.server_close()


def test_argocd_cli_server_skew_is_a_warning(tmp_path: Path):
    from pipekit.testing.argocd.server import ArgoCDStandIn

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cli = bin_dir / "argocd"  # an old CLI, shaped like `argocd version --client -o json`
    cli.write_text(
        '#!/bin/sh\necho \'{"client": {"Version": "v2.9.3+6eba5be", "Platform": "linux/amd64"}}\'\n'
    )
    cli.chmod(0o755)
    with ArgoCDStandIn() as argo:
        config = _config(tmp_path, f"argocd:\n  server: {argo.server}\n  plaintext: true\n")
        env = {"ARGOCD_AUTH_TOKEN": argo.token, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        out = doctor("--config", str(config), "--check", "argocd", "--json", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    check = json.loads(out.stdout)["checks"][0]
    assert check["status"] == "warn" and "skewed" in check["summary"]
    assert check["details"]["cli"] == "2.9.3" and check["details"]["server"].startswith("v3.5.1")
