"""pipekit.clients.aws: the credential chain, Bitbucket OIDC, endpoint overrides and retries (real HTTP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipekit.clients import aws
from pipekit.clients.ecr import EcrClient
from pipekit.core import masking
from pipekit.core.errors import BadInput, ExternalError
from pipekit.testing.moto import MotoServer
from tests.steps.test_ecr_push import base_env

# a JWT-shaped token (moto does not verify the signature)
OIDC = (
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ7cmVwb30iLCJhdWQiOiJhcmk6Y2xvdWQ6Yml0YnVja2V0In0.c2lnbmF0dXJlLXNlY3JldA"
)
ROLE = "arn:aws:iam::123456789012:role/pipekit-ecr"
FAST = aws.RetryPolicy(attempts=3, backoff_s=0.01, max_backoff_s=0.02, total_s=10)


@pytest.fixture(scope="module")
def moto(_moto_session: MotoServer) -> MotoServer:
    _moto_session.reset()  # this module's tests share its state, as before
    return _moto_session


@pytest.fixture
def clean_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.slow
def test_bitbucket_oidc_assumes_the_role_with_web_identity(
    moto: MotoServer, clean_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    env = {
        "BITBUCKET_STEP_OIDC_TOKEN": OIDC,
        "AWS_ROLE_ARN": ROLE,
        "AWS_REGION": "eu-west-1",
        "BITBUCKET_BUILD_NUMBER": "77",
    }
    session = aws.session(region=None, env=env, retry=FAST)
    assert session.source == f"Bitbucket OIDC, role {ROLE}" and session.region == "eu-west-1"
    creds = session.session.get_credentials().get_frozen_credentials()
    assert creds.access_key and creds.token  # temporary credentials from STS
    assert masking.mask(f"x {creds.secret_key} y {OIDC}") == "x *** y ***"
    # and they work against the (moto) ECR API
    assert EcrClient(session).describe_repository("nothing-here") is None


@pytest.mark.slow
def test_web_identity_token_file_goes_through_botocores_chain_and_sts_endpoint(
    moto: MotoServer, clean_aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text(OIDC)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto.url)  # only STS: proves the per-service override
    session = aws.session(region="us-east-1", env=dict(os.environ), retry=FAST)
    assert session.source == "assume-role-with-web-identity"


def test_profile_in_a_config_file(clean_aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "credentials").write_text(
        "[ci]\naws_access_key_id = AKIAFROMPROFILE\naws_secret_access_key = profile-secret-value\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_PROFILE", "ci")
    session = aws.session(region="eu-central-1", env=dict(os.environ), retry=FAST)
    assert session.source == "shared-credentials-file"
    assert masking.mask("profile-secret-value") == "***"


def test_no_credentials_lists_what_was_looked_for(clean_aws: None) -> None:
    with pytest.raises(BadInput) as err:
        aws.session(region="eu-west-1", env={"BITBUCKET_STEP_OIDC_TOKEN": OIDC}, retry=FAST)
    text = str(err.value)
    assert "BITBUCKET_STEP_OIDC_TOKEN is set but AWS_ROLE_ARN is not" in text
    assert "AWS_ACCESS_KEY_ID" in text and "AWS_WEB_IDENTITY_TOKEN_FILE" in text and OIDC not in text


def test_no_region_is_bad_input(clean_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-value")
    with pytest.raises(BadInput, match="no AWS region"):
        aws.session(region=None, env={}, retry=FAST)


def test_moto_expired_token_is_taken_as_valid_for_12_hours(
    moto: MotoServer, clean_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in moto.aws_env().items():
        monkeypatch.setenv(k, v)
    now = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
    auth = EcrClient(aws.session(region=None, env=dict(os.environ), retry=FAST)).authorization(now)
    assert auth.username == "AWS" and auth.password == "123456789012-auth-token"
    assert auth.expires_at == datetime(2026, 11, 27, 0, 0, tzinfo=timezone.utc)
    assert masking.mask(auth.password) == "***"


# -- retries over real HTTP -------------------------------------------------------------
class FlakyEcr:
    """An ECR endpoint on 127.0.0.1 that throttles/fails ``failures`` times, then answers."""

    def __init__(self, failures: int, status: int, error: str) -> None:
        self.calls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.calls += 1
                if outer.calls <= failures:
                    body = json.dumps({"__type": error, "message": "Rate exceeded"}).encode()
                    self.send_response(status)
                else:
                    body = json.dumps(
                        {
                            "repositories": [
                                {
                                    "repositoryName": "svc",
                                    "registryId": "123456789012",
                                    "repositoryUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/svc",
                                    "imageTagMutability": "IMMUTABLE",
                                }
                            ]
                        }
                    ).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _session(monkeypatch: pytest.MonkeyPatch, url: str) -> aws.AwsSession:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-value")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the generic one would fail...
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECR", url)  # ...the service-specific one wins
    return aws.session(region="eu-west-1", env=dict(os.environ), retry=FAST)


@pytest.mark.slow
@pytest.mark.parametrize(
    "status, error",
    [(400, "ThrottlingException"), (500, "ServerException"), (503, "ServiceUnavailableException")],
)
def test_throttling_and_5xx_are_retried(
    clean_aws: None, monkeypatch: pytest.MonkeyPatch, status: int, error: str
) -> None:
    flaky = FlakyEcr(failures=2, status=status, error=error)
    try:
        repo = EcrClient(_session(monkeypatch, flaky.url)).describe_repository("svc")
    finally:
        flaky.close()
    assert repo is not None and repo.mutability == "IMMUTABLE" and flaky.calls == 3


@pytest.mark.slow
def test_exit_3_after_the_last_attempt(clean_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    flaky = FlakyEcr(failures=99, status=400, error="ThrottlingException")
    try:
        with pytest.raises(ExternalError, match="failed after 3 attempts: ThrottlingException"):
            EcrClient(_session(monkeypatch, flaky.url)).describe_repository("svc")
    finally:
        flaky.close()
    assert flaky.calls == 3


def test_a_first_failure_counts_as_attempt_1_of_the_policy(caplog: pytest.LogCaptureFixture) -> None:
    from botocore.exceptions import ClientError

    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ClientError(
                {
                    "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "DescribeRepositories",
            )
        return "answer"

    with caplog.at_level("WARNING", logger="pipekit.aws"):
        assert aws.call(flaky, what="ecr:DescribeRepositories", retry=FAST) == "answer"
    assert len(calls) == 3
    assert [r.getMessage().rsplit("; ", 1)[1] for r in caplog.records] == ["retry 1 of 2", "retry 2 of 2"]


def test_a_call_that_works_at_once_does_not_load_tenacity() -> None:
    code = (
        "import sys; from pipekit.clients import aws; "
        "assert aws.call(lambda: 42, what='x', retry=aws.RetryPolicy()) == 42; "
        "print('tenacity' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.slow
def test_access_denied_is_not_retried(clean_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    flaky = FlakyEcr(failures=99, status=400, error="AccessDeniedException")
    try:
        with pytest.raises(BadInput, match="AccessDeniedException"):
            EcrClient(_session(monkeypatch, flaky.url)).describe_repository("svc")
    finally:
        flaky.close()
    assert flaky.calls == 1


@pytest.mark.slow
def test_step_exit_3_when_ecr_keeps_failing(tmp_path: Path) -> None:
    flaky = FlakyEcr(failures=99, status=500, error="ServerException")
    (tmp_path / "pipekit.yaml").write_text("ecr:\n  retry:\n    attempts: 2\n    backoff_s: 0.01\n")
    env = base_env(tmp_path)
    env.update(
        AWS_ACCESS_KEY_ID="AKIA",
        AWS_SECRET_ACCESS_KEY="secret-value",
        AWS_REGION="eu-west-1",
        AWS_ENDPOINT_URL_ECR=flaky.url,
    )
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipekit.ecr_push",
                "--repository",
                "svc",
                "--tags",
                "b",
                "--retag-from",
                "a",
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        flaky.close()
    assert done.returncode == 3, done.stderr
    assert "ecr:DescribeRepositories failed after 2 attempts" in done.stderr
    assert flaky.calls == 4  # DescribeRepositories and BatchGetImage run side by side, 2 attempts each


def test_step_with_oidc_end_to_end_masks_the_token(moto: MotoServer, tmp_path: Path) -> None:
    moto.reset()
    moto.client("ecr").create_repository(repositoryName="oidc-svc")
    env = base_env(tmp_path)
    env.update(
        AWS_ENDPOINT_URL=moto.url, AWS_REGION="us-east-1", BITBUCKET_STEP_OIDC_TOKEN=OIDC, AWS_ROLE_ARN=ROLE
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipekit",
            "ecr-push",
            "--repository",
            "oidc-svc",
            "--tags",
            "b",
            "--retag-from",
            "a",
            "--debug",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr  # got as far as ECR: tag 'a' is not there
    assert "'a' not found in ECR repository oidc-svc" in done.stderr
    assert "Bitbucket OIDC" in done.stderr and OIDC not in done.stdout + done.stderr
