"""One HTML page of every Teams card a rehearsal sent, rendered by Microsoft's own renderer.

The page loads npm ``adaptivecards`` (the renderer Teams' web client is built on) and
``markdown-it`` as the markdown processor (Teams renders TextBlock markdown: links, bold, lists),
both copied beside the page so it opens from ``file://`` with no network. Each card is parsed
and rendered in the browser; the outcome per card (rendered, or the error, plus the renderer's
parse warnings) is written into ``<pre id="status">`` and the page title, where a person and a
headless browser (``chromium --dump-dom``) can read it.

The renderer is installed once with npm into a cache folder (``~/.cache/pipekit/card-renderer``,
or ``PIPEKIT_CARD_RENDERER_DIR``); without npm the page is still written, listing the cards' JSON.
"""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipekit.core import process

RENDERER = {"adaptivecards": "3.0.6", "markdown-it": "14.1.0"}
SCRIPTS = {
    "adaptivecards.min.js": "adaptivecards/dist/adaptivecards.min.js",
    "markdown-it.min.js": "markdown-it/dist/markdown-it.min.js",
}
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


@dataclass
class CardEntry:
    title: str  # "succeeded (build)"
    card: dict[str, Any]


def cards_from_payloads(payloads: Sequence[tuple[str, Any]]) -> list[CardEntry]:
    """The Adaptive Cards inside Teams message envelopes (``type: message`` with attachments)."""
    out: list[CardEntry] = []
    for title, payload in payloads:
        if not isinstance(payload, Mapping):
            continue
        for attachment in payload.get("attachments") or []:
            if isinstance(attachment, Mapping) and attachment.get("contentType") == ADAPTIVE_CARD:
                content = attachment.get("content")
                if isinstance(content, dict):
                    out.append(CardEntry(title, content))
    return out


def cache_dir(env: Mapping[str, str]) -> Path:
    if env.get("PIPEKIT_CARD_RENDERER_DIR"):
        return Path(env["PIPEKIT_CARD_RENDERER_DIR"])
    base = Path(env.get("XDG_CACHE_HOME") or Path(env.get("HOME") or "~").expanduser() / ".cache")
    return base / "pipekit" / "card-renderer"


def ensure_renderer(env: Mapping[str, str], timeout: float = 180.0) -> Path | None:
    """``node_modules`` holding the pinned renderer, installed with npm on first use; None without npm."""
    versions = "-".join(f"{k}@{v}" for k, v in RENDERER.items())
    target = cache_dir(env) / versions
    modules = target / "node_modules"
    if all((modules / rel).is_file() for rel in SCRIPTS.values()):
        return modules
    npm = shutil.which("npm", path=env.get("PATH"))
    if npm is None:
        return None
    target.mkdir(parents=True, exist_ok=True)
    process.run(
        [
            npm,
            "install",
            "--prefix",
            str(target),
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--silent",
            *(f"{k}@{v}" for k, v in RENDERER.items()),
        ],
        env=dict(env),
        timeout=timeout,
        what="npm install of the Adaptive Cards renderer",
    )
    return modules if all((modules / rel).is_file() for rel in SCRIPTS.values()) else None


def write_page(cards: Sequence[CardEntry], out: Path, modules: Path | None) -> Path:
    """Write ``out`` (and the renderer's scripts beside it); returns the page's path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    scripts = ""
    if modules is not None:
        lib = out.parent / "renderer"
        lib.mkdir(exist_ok=True)
        for name, rel in SCRIPTS.items():
            shutil.copyfile(modules / rel, lib / name)
        scripts = "\n".join(f'<script src="renderer/{name}"></script>' for name in SCRIPTS)
    sections = "\n".join(
        f'<section class="card"><h2>{html.escape(c.title)}</h2><div class="host" id="card-{i}"></div>'
        f"<details><summary>JSON</summary><pre>{html.escape(json.dumps(c.card, indent=2))}</pre></details>"
        "</section>"
        for i, c in enumerate(cards)
    )
    data = json.dumps([c.card for c in cards]).replace("</", "<\\/")
    out.write_text(
        PAGE.format(scripts=scripts, sections=sections, data=data, count=len(cards)), encoding="utf-8"
    )
    return out


def read_status(dom: str) -> list[dict[str, Any]] | None:
    """The per-card outcomes a browser wrote into the page (from ``chromium --dump-dom``)."""
    start, end = dom.find('<pre id="status">'), dom.find("</pre>", dom.find('<pre id="status">'))
    if start < 0 or end < 0:
        return None
    text = html.unescape(dom[start + len('<pre id="status">') : end]).strip()
    try:
        status = json.loads(text)
    except json.JSONDecodeError:
        return None
    return status if isinstance(status, list) else None


def chromium_argv(
    page: Path, profile: Path, *, screenshot: Path | None = None, size: tuple[int, int] = (900, 2400)
) -> list[str]:
    """A headless Chromium that neither phones home nor needs a sandbox (root in CI)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    argv = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--allow-file-access-from-files",
        "--virtual-time-budget=5000",
    ]
    if screenshot is not None:
        argv += [f"--screenshot={screenshot}", f"--window-size={size[0]},{size[1]}"]
    else:
        argv += ["--dump-dom"]
    return [*argv, page.resolve().as_uri()]


# Host config close to Teams' light theme; markdown through markdown-it as Teams renders it.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pipekit cards: rendering {count}</title>
<style>
body {{ font-family: "Segoe UI", system-ui, sans-serif; background: #f5f5f5; margin: 24px; }}
section.card {{ background: #fff; border-radius: 6px; box-shadow: 0 1px 3px #0002; margin: 0 0 20px; \
padding: 12px;
  max-width: 620px; }}
h2 {{ font-size: 13px; color: #616161; margin: 0 0 8px; }}
pre {{ font-size: 11px; white-space: pre-wrap; }}
.error {{ color: #c4314b; font-weight: 600; }}
</style>
{scripts}
</head><body>
<h1>Teams cards sent by the rehearsal</h1>
{sections}
<h2>Renderer status</h2><pre id="status">[]</pre>
<script>
const cards = {data};
const status = [];
const hasRenderer = typeof AdaptiveCards !== "undefined";
if (hasRenderer && typeof markdownit !== "undefined") {{
  const md = markdownit({{ linkify: true }});
  AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {{
    result.outputHtml = md.render(text); result.didProcess = true; }};
}}
cards.forEach((card, i) => {{
  const host = document.getElementById("card-" + i);
  if (!hasRenderer) {{ status.push({{ index: i, ok: false, error: "renderer not loaded" }}); return; }}
  try {{
    const ac = new AdaptiveCards.AdaptiveCard();
    ac.hostConfig = new AdaptiveCards.HostConfig({{ fontFamily: "Segoe UI, system-ui, sans-serif" }});
    const context = new AdaptiveCards.SerializationContext();
    ac.parse(card, context);
    const warnings = [];
    for (let k = 0; k < context.eventCount; k++) {{ warnings.push(context.getEventAt(k).message); }}
    const validation = ac.validateProperties();
    for (let k = 0; k < validation.validationEvents.length; k++) {{
      warnings.push(validation.validationEvents[k].message); }}
    const element = ac.render();
    if (!element) {{ throw new Error("render() returned nothing"); }}
    host.appendChild(element);
    status.push({{ index: i, ok: true, elements: element.querySelectorAll("*").length, warnings }});
  }} catch (e) {{
    host.innerHTML = '<p class="error"></p>'; host.firstChild.textContent = String(e);
    status.push({{ index: i, ok: false, error: String(e) }});
  }}
}});
document.getElementById("status").textContent = JSON.stringify(status);
document.title = "pipekit cards: " + status.filter(s => s.ok).length + "/" + cards.length + " rendered";
</script>
</body></html>
"""
