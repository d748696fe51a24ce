"""One short GET for the endpoint checks: no retries (doctor reports, it does not wait), a hard timeout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Answer:
    status: int = 0
    json: Any = None
    error: str = ""  # set when there was no HTTP answer at all


def get(
    url: str,
    *,
    timeout: float,
    verify: bool = True,
    token: str | None = None,
    auth: tuple[str, str] | None = None,
) -> Answer:
    import requests

    from pipekit.core.masking import mask_url

    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = requests.get(
            url, headers=headers, auth=auth, timeout=(timeout, timeout), verify=verify, allow_redirects=False
        )
    except requests.Timeout:
        return Answer(error=f"no answer from {mask_url(url)} within {timeout:g} s")
    except requests.RequestException as exc:
        return Answer(error=f"{mask_url(url)}: {type(exc).__name__}")
    try:
        body = response.json()
    except ValueError:
        body = None
    return Answer(status=response.status_code, json=body)
