"""A Prometheus Pushgateway: replace one job's group with a text exposition (HTTP PUT)."""

from __future__ import annotations

from urllib.parse import quote

from pipekit.core import http
from pipekit.core.errors import BadInput, ExternalError
from pipekit.core.masking import mask_url

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def push(
    base_url: str, job: str, text: str, *, grouping: dict[str, str] | None = None, timeout: float = 30.0
) -> str:
    """PUT ``text`` to ``/metrics/job/<job>[/<label>/<value>...]``; returns the URL pushed to."""
    if not base_url.startswith(("http://", "https://")):
        raise BadInput(
            f"--push-gateway {mask_url(base_url)}: expected an http(s) URL, e.g. http://pushgateway:9091"
        )
    url = base_url.rstrip("/") + "/metrics/job/" + quote(job, safe="")
    for key, value in (grouping or {}).items():
        url += f"/{quote(key, safe='')}/{quote(value, safe='')}"
    session = http.session(total_timeout=timeout)
    try:
        response = session.put(
            url, data=text.encode("utf-8"), headers={"Content-Type": CONTENT_TYPE}, timeout=(5.0, timeout)
        )
    finally:
        session.close()
    if response.status_code >= 300:
        raise ExternalError(
            f"Pushgateway {mask_url(url)} answered {response.status_code}: {response.text.strip()[:200]}"
        )
    return url
