"""One self-contained HTML page (inline CSS, no script, nothing fetched): the matrix, made to read
at 20 services x 4 environments, or the diff as release notes. Every text is escaped."""

from __future__ import annotations

from html import escape

from pipekit.releases.model import (
    ABSENT,
    BEHIND_TARGET,
    CARRIES,
    DIVERGED,
    MARKS,
    NEW,
    REBUILT,
    STATES,
    UNCHANGED,
    UNKNOWN,
    Cell,
    DiffReport,
    ServiceChange,
    SourceCommit,
    StatusReport,
)
from pipekit.releases.writers.interface import ReleaseWriter, age, short, who

STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;\
margin:20px;color:#1f2328;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #d0d7de}
h3{font-size:14px;margin:16px 0 4px}
.muted{color:#59636e;font-size:12px}
table.matrix{border-collapse:separate;border-spacing:0;width:100%;table-layout:fixed}
.matrix th,.matrix td{border-bottom:1px solid #e4e8ec;padding:6px 8px;vertical-align:top;text-align:left}
.matrix thead th{position:sticky;top:0;background:#f6f8fa;font-size:13px;border-bottom:2px solid #d0d7de}
.matrix th.svc{width:160px;font-size:13px;word-break:break-all}
.matrix tbody tr:nth-child(even){background:#fbfcfd}
.cell{font-size:12px;line-height:1.35;border-left:3px solid transparent;padding-left:6px}
.ver{font-size:14px;font-weight:600;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.dig{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;color:#59636e}
.none{color:#8c959f}
.badge{display:inline-block;border-radius:10px;padding:0 7px;margin:2px 3px 0 0;\
font-size:11px;font-weight:600}
.m-ahead{background:#fff1c2;color:#7a4d00}.m-rolled-back{background:#eadcff;color:#4b2a85}
.m-behind{background:#dbeafe;color:#174a8b}.m-drift{background:#ffd8d3;color:#8b1a10}
.m-unhealthy{background:#ffd8d3;color:#8b1a10}.m-no-app{background:#eaeef2;color:#424a53}
.c-ahead{border-left-color:#d4a72c}.c-rolled-back{border-left-color:#8250df}.c-behind{border-left-color:#0969da}
.c-drift,.c-unhealthy{border-left-color:#cf222e}.c-no-app{border-left-color:#8c959f}
.legend{display:flex;flex-wrap:wrap;gap:8px 16px;font-size:12px;margin:8px 0 12px}
ul.commits{margin:4px 0 8px;padding-left:18px;font-size:13px}ul.commits li{margin:2px 0}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;background:#f6f8fa;padding:0 3px;
border-radius:3px}
.state{font-size:12px;font-weight:600;border-radius:10px;padding:1px 8px;background:#eaeef2}
.s-carries{background:#dafbe1;color:#116329}.s-diverged,.s-to-ahead{background:#ffd8d3;color:#8b1a10}
.s-unknown{background:#fff1c2;color:#7a4d00}
table.issues{border-collapse:collapse;font-size:13px}.issues td,.issues th{padding:3px 10px;
border-bottom:1px solid #e4e8ec;text-align:left}
.warn{color:#8b1a10;font-weight:600;font-size:13px}
"""
SEVERITY = ("drift", "unhealthy", "behind", "ahead", "rolled-back", "no-app")


def e(text: object) -> str:
    return escape(str(text), quote=True)


def page(title: str, body: list[str]) -> str:
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en"><head><meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f"<title>{e(title)}</title><style>{STYLE}</style></head><body>",
                *body,
                "</body></html>",
            ]
        )
        + "\n"
    )


def badges(cell: Cell) -> list[str]:
    return [
        f'<span class="badge m-{e(mark)}" title="{e(note)}">{e(mark)}</span>'
        for mark, note in zip(cell.marks, cell.notes, strict=False)
    ]


def cell_html(cell: Cell | None) -> str:
    if cell is None:
        return '<td><span class="none">–</span></td>'
    first = next((m for m in SEVERITY if m in cell.marks), None)
    klass = f"cell c-{first}" if first else "cell"
    if not cell.deployed:
        return (
            f'<td><div class="{klass}"><div class="ver">{e(cell.version or "–")}</div>'
            '<div class="none">not deployed yet</div>' + "".join(badges(cell)) + "</div></td>"
        )
    parts = [f'<div class="{klass}" title="{e(cell.image)}">', f'<div class="ver">{e(cell.version)}</div>']
    if cell.tag and cell.short_digest:
        parts.append(f'<div class="dig">@{e(cell.short_digest)}</div>')
    since = (cell.since or "")[:16].replace("T", " ")
    parts.append(f'<div title="since {e(since)} UTC">{e(age(cell))} · {e(who(cell))}</div>')
    if cell.live is not None:
        parts.append(
            f'<div class="muted">Argo CD {e(cell.live.sync or "?")} / {e(cell.live.health or "?")}'
            f" at {e(short(cell.live.revision))}</div>"
        )
    parts += badges(cell)
    parts.append("</div>")
    return "<td>" + "".join(parts) + "</td>"


def commit_li(c: SourceCommit) -> str:
    keys = " ".join(f"<code>{e(k)}</code>" for k in c.jira)
    return (
        f'<li>{e(c.subject)} <span class="muted">(<code>{e(short(c.sha))}</code>, {e(c.author)}, '
        f"{e(c.date[:10])})</span> {keys}</li>"
    )


def change_html(s: ServiceChange) -> list[str]:
    before = e(s.target.version) if s.target else "–"
    after = e(s.source.version) if s.source else "–"
    out = [
        f"<h3>{e(s.service)} <code>{before}</code> → <code>{after}</code> "
        f'<span class="state s-{e(s.state)}" '
        f'title="{e(STATES.get(s.state, s.state))}">{e(s.state)}</span></h3>'
    ]
    facts = []
    if s.total:
        facts.append(f"{s.total} commit{'s' if s.total != 1 else ''}")
    if s.jira:
        facts.append("Jira " + ", ".join(e(k) for k in s.jira))
    if s.repo:
        facts.append(f"from {e(s.repo)}")
    if facts:
        out.append(f'<div class="muted">{" · ".join(facts)}</div>')
    if s.note:
        out.append(
            f'<div class="warn">{e(s.note)}</div>'
            if s.state in (DIVERGED, BEHIND_TARGET, UNKNOWN)
            else f'<div class="muted">{e(s.note)}</div>'
        )
    if s.commits:
        more = f"<li>… and {s.total - len(s.commits)} more</li>" if s.truncated else ""
        out.append('<ul class="commits">' + "".join(commit_li(c) for c in s.commits) + more + "</ul>")
    if s.rolled_back:
        out.append(
            '<div>Would roll back:</div><ul class="commits">'
            + "".join(commit_li(c) for c in s.rolled_back)
            + "</ul>"
        )
    return out


class HtmlWriter(ReleaseWriter):
    name = "html"
    media_type = "text/html"

    def status(self, report: StatusReport) -> str:
        title = f"What runs where: {report.repo}"
        counts = report.counts()
        summary = ", ".join(f"{n} {m}" for m, n in counts.items()) or "nothing marked"
        body = [
            f"<h1>{e(title)}</h1>",
            f'<p class="muted">{e(report.branch)} at <code>{e(short(report.revision, 12))}</code>, '
            f"{e(report.generated_at[:16].replace('T', ' '))} UTC · {len(report.services)} services × "
            f"{len(report.environments)} environments · {e(summary)}"
            + (f" · live state from Argo CD {e(report.argocd)}" if report.argocd else "")
            + "</p>",
            '<div class="legend">'
            + "".join(
                f'<span><span class="badge m-{e(m)}">{e(m)}</span>{e(t)}</span>' for m, t in MARKS.items()
            )
            + "</div>",
            '<table class="matrix"><thead><tr><th class="svc">service</th>',
        ]
        for env in report.environments:
            up = report.upstream.get(env)
            body.append(f"<th>{e(env)}" + (f' <span class="muted">← {e(up)}</span>' if up else "") + "</th>")
        body.append("</tr></thead><tbody>")
        for service in report.services:
            body.append(
                f'<tr><th class="svc">{e(service)}</th>'
                + "".join(cell_html(report.cell(service, env)) for env in report.environments)
                + "</tr>"
            )
        body.append("</tbody></table>")
        marked = report.marked()
        if marked:
            body.append("<h2>Marks</h2><ul>")
            body += [
                f"<li><b>{e(c.service)}</b> in {e(c.environment)}: {e(n)}</li>"
                for c in marked
                for n in c.notes
            ]
            body.append("</ul>")
        return page(title, body)

    def diff(self, report: DiffReport) -> str:
        title = f"Release notes: {report.source} → {report.target}"
        counts = ", ".join(f"{n} {STATES.get(k, k)}" for k, n in report.counts().items()) or "no service"
        body = [
            f"<h1>{e(title)}</h1>",
            f'<p class="muted">GitOps {e(report.repo)}, {e(report.branch)} at '
            f"<code>{e(short(report.revision, 12))}</code>, "
            f"{e(report.generated_at[:16].replace('T', ' '))} UTC"
            f" · {e(counts)}</p>",
        ]
        changing = report.by_state(CARRIES, NEW, REBUILT, UNKNOWN)
        if changing:
            body.append("<h2>Changes</h2>")
            for s in changing:
                body += change_html(s)
        back = report.by_state(DIVERGED, BEHIND_TARGET)
        if back:
            body.append(f"<h2>Would roll back what {e(report.target)} runs</h2>")
            for s in back:
                body += change_html(s)
        if report.jira_error:
            body.append(f'<p class="warn">Jira: {e(report.jira_error)}</p>')
        if report.issues:
            allowed = " / ".join(report.allowed_statuses)
            body.append(
                "<h2>Jira issues</h2>"
                + (f'<p class="muted">Allowed statuses: {e(allowed)}</p>' if allowed else "")
            )
            body.append('<table class="issues"><tr><th>issue</th><th>status</th><th>summary</th></tr>')
            for i in report.issues.values():
                state = (
                    '<span class="warn">not found</span>'
                    if not i.found
                    else e(i.status)
                    + (f' <span class="warn">not in {e(allowed)}</span>' if i.allowed is False else "")
                )
                key = (
                    f'<a href="{e(i.url)}">{e(i.key)}</a>'
                    if i.url.startswith(("https://", "http://"))
                    else e(i.key)
                )
                body.append(f"<tr><td>{key}</td><td>{state}</td><td>{e(i.summary)}</td></tr>")
            body.append("</table>")
        same = report.by_state(UNCHANGED)
        if same:
            body.append(
                "<h2>Unchanged</h2><p>"
                + ", ".join(
                    f"{e(s.service)} <code>{e(s.source.version if s.source else '')}</code>" for s in same
                )
                + "</p>"
            )
        absent = report.by_state(ABSENT)
        if absent:
            body.append(
                f"<h2>Only in {e(report.target)}</h2><p>" + ", ".join(e(s.service) for s in absent) + "</p>"
            )
        return page(title, body)


WRITER = HtmlWriter()
