"""AWS sessions for pipekit: the standard credential chain plus Bitbucket OIDC, and API retries.

Credentials, first match wins:

1. ``BITBUCKET_STEP_OIDC_TOKEN`` + ``AWS_ROLE_ARN``: ``sts:AssumeRoleWithWebIdentity`` (an unsigned
   call: the OIDC token is the credential), session name ``pipekit-<build number>``.
2. botocore's own chain (the same as boto3's): ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``
   (+ ``AWS_SESSION_TOKEN``), ``AWS_PROFILE`` in ``~/.aws/credentials`` / ``~/.aws/config``,
   ``AWS_WEB_IDENTITY_TOKEN_FILE`` + ``AWS_ROLE_ARN``, container credentials, EC2 instance metadata.

Endpoints: botocore (>= 1.31) reads ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``
(``AWS_ENDPOINT_URL_ECR``, ``AWS_ENDPOINT_URL_STS``) itself; pipekit passes nothing extra.

Retries: botocore's own retries are switched off (one attempt) and every call goes through
:func:`call`, a tenacity loop over throttling errors, the retryable HTTP statuses of
:mod:`pipekit.core.retry` and connection failures, waiting by core.retry's full-jitter backoff, so
the policy is one place and visible; after the last attempt an :class:`ExternalError` (exit 3).

botocore is imported inside the functions only: importing this module costs nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pipekit.core import masking
from pipekit.core.errors import BadInput, ExternalError
from pipekit.core.retry import RETRYABLE_STATUSES, backoff

log = logging.getLogger("pipekit.aws")
T = TypeVar("T")

THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "LimitExceededException",
    "RequestThrottled",
    "PriorRequestNotComplete",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "ServerException",
}

LOOKED_FOR = (
    "BITBUCKET_STEP_OIDC_TOKEN + AWS_ROLE_ARN (Bitbucket OIDC), "
    "AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, "
    "AWS_PROFILE / the default profile in ~/.aws/credentials and ~/.aws/config, "
    "AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, "
    "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI), "
    "EC2 instance metadata"
)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    backoff_s: float = 0.5  # waits: core.retry's full jitter, doubling from this up to max_backoff_s
    max_backoff_s: float = 8.0
    total_s: float = 60.0


@dataclass
class AwsSession:
    """An AWS session with where its credentials came from and the retry policy for its calls."""

    session: Any  # botocore.session.Session (boto3 itself adds imports and nothing we use)
    region: str
    source: str
    retry: RetryPolicy

    def client(self, service: str, endpoint_url: str | None = None) -> Any:
        """A botocore client for ``service`` (``endpoint_url``: a stand-in or a private endpoint)."""
        from botocore.config import Config

        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            user_agent_extra="pipekit",
        )
        return self.session.create_client(
            service, region_name=self.region, endpoint_url=endpoint_url, config=config
        )


def resolve_region(explicit: str | None, env: Mapping[str, str]) -> str | None:
    return explicit or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None


def session(*, region: str | None, env: Mapping[str, str], retry: RetryPolicy | None = None) -> AwsSession:
    """A session with credentials, or :class:`BadInput` (exit 2) listing what was looked for."""
    import botocore.session

    retry = retry or RetryPolicy()
    region = resolve_region(region, env)
    oidc = env.get("BITBUCKET_STEP_OIDC_TOKEN")
    role = env.get("AWS_ROLE_ARN")
    if oidc and role:
        if not region:
            raise BadInput(
                "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), "
                "--region or ecr.region in pipekit.yaml"
            )
        creds = assume_role_with_web_identity(role, oidc, region=region, env=env, retry=retry)
        sess = botocore.session.Session()
        sess.set_credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        return AwsSession(sess, region, f"Bitbucket OIDC, role {role}", retry)

    sess = botocore.session.Session()
    try:
        if not region:
            region = sess.get_config_variable("region")
        creds = sess.get_credentials()
    except Exception as exc:  # a broken profile, an unreadable web identity token file, a refused STS call
        raise BadInput(
            f"AWS credentials could not be loaded: {masking.mask(str(exc))}", hint=f"looked for: {LOOKED_FOR}"
        ) from None
    if creds is None:
        extra = " (BITBUCKET_STEP_OIDC_TOKEN is set but AWS_ROLE_ARN is not)" if oidc and not role else ""
        raise BadInput(
            f"no AWS credentials found{extra}; looked for: {LOOKED_FOR}",
            hint="in Bitbucket, enable OIDC on the step and set AWS_ROLE_ARN",
        )
    if not region:
        raise BadInput(
            "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), --region or ecr.region in pipekit.yaml"
        )
    frozen = creds.get_frozen_credentials()
    masking.add_secret(frozen.secret_key)
    masking.add_secret(frozen.token)
    return AwsSession(sess, region, getattr(creds, "method", "") or "AWS credential chain", retry)


def assume_role_with_web_identity(
    role_arn: str, token: str, *, region: str, env: Mapping[str, str], retry: RetryPolicy
) -> dict[str, Any]:
    """Exchange a Bitbucket OIDC token for temporary credentials (exit 2 when STS refuses it)."""
    import botocore.session
    from botocore import UNSIGNED
    from botocore.config import Config
    from botocore.exceptions import ClientError

    masking.add_secret(token)
    sts = botocore.session.Session().create_client(
        "sts",
        region_name=region,
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    name = f"pipekit-{env.get('BITBUCKET_BUILD_NUMBER') or 'local'}"[:64]
    try:
        answer = call(
            lambda: sts.assume_role_with_web_identity(
                RoleArn=role_arn, RoleSessionName=name, WebIdentityToken=token, DurationSeconds=3600
            ),
            what="sts:AssumeRoleWithWebIdentity",
            retry=retry,
        )
    except ClientError as exc:
        raise BadInput(
            f"sts:AssumeRoleWithWebIdentity for {role_arn} refused: {error_text(exc)}",
            hint="check the role's trust policy names the Bitbucket OIDC provider and audience",
        ) from None
    creds: dict[str, Any] = answer["Credentials"]
    masking.add_secret(creds["SecretAccessKey"])
    masking.add_secret(creds["SessionToken"])
    return creds


# -- errors and retries ----------------------------------------------------
def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str((response.get("Error") or {}).get("Code") or "")
    return ""


def error_text(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error") or {}
        return masking.mask(f"{err.get('Code', '')}: {err.get('Message', '')}".strip(": "))
    return masking.mask(str(exc))


def is_retryable(exc: BaseException) -> bool:
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(exc, (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError)):
        return True
    if isinstance(exc, ClientError):
        status = int((exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        return error_code(exc) in THROTTLING or status in RETRYABLE_STATUSES
    return False


def call(fn: Callable[[], T], *, what: str, retry: RetryPolicy) -> T:
    """Run one API call with retries on throttling, 5xx and connection errors; exit 3 after the last.

    The first attempt runs without tenacity (its import is on the step's critical path:
    docs/architecture.md); a retryable failure hands over to the tenacity loop, which counts that failure as
    attempt 1, so attempts, waits, the time bound and the log lines are those of the policy.
    """
    started = time.monotonic()
    try:
        return fn()
    except Exception as exc:
        if not is_retryable(exc):
            raise
        first: BaseException | None = exc

    def attempt() -> T:  # attempt 1 has happened: the loop sees its failure, then calls fn again
        nonlocal first
        if first is not None:
            failure, first = first, None
            raise failure
        return fn()

    return _retrying(attempt, what=what, retry=retry, started=started)


def _retrying(fn: Callable[[], T], *, what: str, retry: RetryPolicy, started: float) -> T:
    import tenacity

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s: %s; retry %d of %d",
            what,
            error_text(exc) if exc else "?",
            state.attempt_number,
            retry.attempts - 1,
        )

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_retryable),
        stop=tenacity.stop_after_attempt(max(1, retry.attempts))
        | tenacity.stop_after_delay(max(0.0, retry.total_s - (time.monotonic() - started))),
        wait=lambda state: backoff(state.attempt_number, retry.backoff_s, retry.max_backoff_s),
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(fn)
    except Exception as exc:
        if is_retryable(exc):
            raise ExternalError(
                f"{what} failed after {retry.attempts} attempts: {error_text(exc)}",
                hint="AWS is throttling or failing; rerun the step later",
            ) from None
        raise
