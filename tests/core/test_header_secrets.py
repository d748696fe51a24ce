"""Secrets that go into HTTP headers are checked first (no control characters), and never echoed."""

from __future__ import annotations

import pytest

from pipekit.core import masking
from pipekit.core.errors import BadInput, ExitCode
from pipekit.core.step import run_cli
from pipekit.testing.argocd import ArgoCDStandIn
from tests.conftest import run_pipekit

E = "5f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
TOKEN = "eyJhbGciOi_JIUzI1NiJ9.eyJzdWIi\nOiJjaSJ9.sig_PART_xyz"
PIECES = ("eyJhbGciOi", "JIUzI1NiJ9", "eyJzdWIi", "OiJjaSJ9", "sig_PART")


def test_argocd_token_with_a_newline_is_exit_2_and_never_printed(tmp_path) -> None:
    with ArgoCDStandIn() as argo:
        argo.add_app("orders-dev", revision=E)
        proc = run_pipekit(
            "wait-for-argocd",
            "--app",
            "orders-dev",
            "--revision",
            E,
            "--plaintext",
            "--timeout",
            "5",
            env={
                "ARGOCD_SERVER": argo.server,
                "ARGOCD_AUTH_TOKEN": TOKEN,
                "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json"),
            },
            cwd=tmp_path,
        )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "ARGOCD_AUTH_TOKEN" in out and "control character" in out
    assert not [p for p in PIECES if p in out], out


def test_bitbucket_token_with_a_control_character_is_bad_input() -> None:
    from pipekit.clients.bitbucket import CodeInsights

    with pytest.raises(BadInput, match="PIPEKIT_BITBUCKET_TOKEN") as info:
        CodeInsights.from_env(
            {"PIPEKIT_BITBUCKET_TOKEN": "abc\rdef-token"}, workspace="w", repo="r", commit="c" * 40
        )
    assert "def-token" not in str(info.value)


def test_escaped_forms_of_a_secret_are_masked_too() -> None:
    masking.add_secret(TOKEN)
    for text in (repr(TOKEN), TOKEN.encode("unicode_escape").decode(), __import__("json").dumps(TOKEN)):
        assert not [p for p in PIECES if p in masking.mask(f"InvalidHeader: {text}")], text


def test_a_bug_whose_message_holds_an_env_secret_is_masked(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", TOKEN)

    def crash(ctx: object) -> None:
        raise RuntimeError(f"Invalid header value {('Bearer ' + TOKEN)!r}")

    assert run_cli(crash, {}, debug=True) == ExitCode.BUG
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "RuntimeError" in out
    assert not [p for p in PIECES if p in out], out
