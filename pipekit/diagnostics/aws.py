"""AWS: credentials are present and STS ``get-caller-identity`` answers with them."""

from __future__ import annotations

from pipekit.diagnostics.check import Check, CheckOutcome, DoctorPlan, fail, ok

KIND = "aws"
_CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_ROLE_ARN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE")


def checks(plan: DoctorPlan) -> list[Check]:
    named = plan.config is not None and plan.config.get("ecr") is not None
    if not named and not any(plan.env.get(v) for v in _CREDENTIAL_VARS):
        return []
    return [Check("endpoint:aws", KIND, lambda: check(plan))]


def check(plan: DoctorPlan) -> CheckOutcome:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    env = plan.env
    session = boto3.session.Session(
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=env.get("AWS_SESSION_TOKEN"),
        region_name=env.get("AWS_REGION")
        or env.get("AWS_DEFAULT_REGION")
        or plan.config_value("ecr.region")
        or "us-east-1",
    )
    if session.get_credentials() is None:
        return fail(
            "no AWS credentials found",
            "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or AWS_ROLE_ARN with "
            "Bitbucket OIDC (AWS_WEB_IDENTITY_TOKEN_FILE)",
        )
    config = Config(connect_timeout=plan.timeout, read_timeout=plan.timeout, retries={"max_attempts": 1})
    sts = session.client(
        "sts", config=config, endpoint_url=env.get("AWS_ENDPOINT_URL_STS") or env.get("AWS_ENDPOINT_URL")
    )
    try:
        identity = sts.get_caller_identity()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        return fail(
            f"STS rejected the credentials ({code})", "renew the AWS credentials or the role's trust policy"
        )
    except BotoCoreError as exc:
        return fail(f"STS did not answer: {type(exc).__name__}", "check the network and AWS_REGION")
    return ok(f"AWS STS answered: account {identity.get('Account')}")
