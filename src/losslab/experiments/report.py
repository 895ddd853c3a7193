"""The lab's report: ``report.md`` and a self-contained ``report.html`` built from the same ``results.json``.

Both open with a summary table (experiment, claim, whether it holds, the deciding numbers, seconds) and then
give one section per experiment: the paper, its claim, the verdict stated plainly (a claim that does not hold
says so in words, not only with a red mark), the table of headline numbers, the figures and the raw metrics.
The HTML embeds the figures as base64 PNGs, so the one file can be mailed or attached to an issue.

``python -m losslab.experiments.report DIR`` rebuilds both files from ``DIR/results.json``.
"""

from __future__ import annotations

import base64
import html
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["status", "summary_rows", "render_markdown", "render_html", "write_report", "markdown_to_html"]

SMOKE_NOTE = (
    "This is the smoke profile: it only checks that every experiment runs end to end, on budgets far too small to "
    "test a claim. Read the verdicts of `--profile quick` or `--profile full`."
)
_STATUS = {True: "holds", False: "does not hold", None: "error"}
_ICON = {True: "✅", False: "❌", None: "⚠️"}


def status(record: dict[str, Any]) -> str:
    """``"holds"``, ``"does not hold"`` or ``"error"`` for one experiment record."""
    if record.get("error"):
        return "error"
    return _STATUS[bool(record.get("holds"))]


def _holds_key(record: dict[str, Any]) -> bool | None:
    return None if record.get("error") else bool(record.get("holds"))


def _counts(records: Sequence[dict[str, Any]]) -> tuple[int, int, int]:
    keys = [_holds_key(r) for r in records]
    return keys.count(True), keys.count(False), keys.count(None)


def summary_rows(results: dict[str, Any]) -> list[dict[str, str]]:
    """One row per experiment for the summary table: name, claim, status, key numbers, seconds."""
    rows = []
    for name, r in results["experiments"].items():
        rows.append(
            {
                "name": name,
                "title": r.get("title", name),
                "claim": r.get("expected", ""),
                "status": status(r),
                "key": r["error"] if r.get("error") else r.get("verdict", ""),
                "seconds": f"{float(r.get('seconds', 0.0)):.1f}",
                "cpu": f"{float(r['cpu_seconds']):.1f}" if r.get("cpu_seconds") is not None else "-",
            }
        )
    return rows


def _headline(results: dict[str, Any]) -> str:
    records = list(results["experiments"].values())
    held, failed, errors = _counts(records)
    parts = [f"{held} of {len(records)} claims hold"]
    if failed:
        names = ", ".join(n for n, r in results["experiments"].items() if _holds_key(r) is False)
        parts.append(f"{failed} {'does' if failed == 1 else 'do'} not ({names})")
    if errors:
        names = ", ".join(n for n, r in results["experiments"].items() if _holds_key(r) is None)
        parts.append(f"{errors} failed to run ({names})")
    return "; ".join(parts) + "."


def _run_line(results: dict[str, Any]) -> str:
    env = results.get("environment", {})
    bits = [
        f"profile `{results['profile']}`",
        f"seed {results['seed']}",
        _jobs_phrase(int(results.get("jobs", 1))),
        f"{float(results.get('total_seconds', 0.0)):.0f} s wall-clock",
    ]
    cpu = [r.get("cpu_seconds") for r in results["experiments"].values()]
    if cpu and all(c is not None for c in cpu):
        bits.append(f"{sum(cpu):.0f} CPU s in the experiments")
    if env:
        bits.append(f"losslab {env.get('losslab', '?')}, torch {env.get('torch', '?')}, Python {env.get('python', '?')}")
    return "Run: " + "; ".join(bits) + "."


def _jobs_phrase(jobs: int) -> str:
    return "1 single-threaded job" if jobs == 1 else f"{jobs} parallel single-threaded jobs"


def _md_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


# ---------------------------------------------------------------------------------------------------------------
# Markdown


def render_markdown(results: dict[str, Any]) -> str:
    """``report.md``: the summary table, then one section per experiment; figure links are relative."""
    out = ["# losslab: do the papers' claims hold here?", "", _run_line(results), ""]
    if results.get("profile") == "smoke":
        out += [f"> {SMOKE_NOTE}", ""]
    out += [f"**{_headline(results)}**", ""]
    out += ["| experiment | claim | result | key numbers | seconds | CPU s |", "|---|---|---|---|---:|---:|"]
    for row in summary_rows(results):
        key = _holds_key(results["experiments"][row["name"]])
        out.append(
            f"| [{row['name']}](#{_anchor(row['name'])}) | {_md_cell(row['claim'])} | {_ICON[key]} {row['status']} "
            f"| {_md_cell(row['key'])} | {row['seconds']} | {row['cpu']} |"
        )
    out.append("")
    for name, r in results["experiments"].items():
        out += _md_section(name, r)
    return "\n".join(out).rstrip() + "\n"


def _anchor(name: str) -> str:
    return re.sub(r"[^a-z0-9-]", "", name.lower().replace(" ", "-"))


def _md_section(name: str, r: dict[str, Any]) -> list[str]:
    key = _holds_key(r)
    out = [f'<a id="{_anchor(name)}"></a>', "", f"## {name}: {r.get('title', name)}", ""]
    if r.get("paper"):
        out += [f"*Paper:* {r['paper']}", ""]
    out += [f"*Claim:* {r.get('expected', '')}", ""]
    if key is None:
        out += [f"> ⚠️ **The experiment failed to run:** `{r.get('error', '')}`", ""]
    elif key:
        out += [f"> ✅ **The claim holds here.** {r.get('verdict', '')}", ""]
    else:
        out += [f"> ❌ **The claim does not hold here.** {r.get('verdict', '')}", ""]
    if r.get("table"):
        out += [r["table"].strip(), ""]
    for fig in r.get("figures", []):
        out += [f"![{name}: {Path(fig).stem}]({fig})", ""]
    details = _details_json(r)
    out += ["<details><summary>measured numbers (metrics)</summary>", "", "```json", details, "```", "", "</details>", ""]
    if r.get("traceback"):
        out += ["<details><summary>traceback</summary>", "", "```", r["traceback"].rstrip(), "```", "", "</details>", ""]
    out += [f"*Profile `{r.get('profile', '')}`, seed {r.get('seed', '')}, {float(r.get('seconds', 0.0)):.1f} s.*", ""]
    return out


def _details_json(r: dict[str, Any]) -> str:
    payload = {"metrics": r.get("metrics", {})}
    if r.get("paper_numbers"):
        payload["paper_numbers"] = r["paper_numbers"]
    return json.dumps(payload, indent=1)


# ---------------------------------------------------------------------------------------------------------------
# HTML

_CSS = """
:root { --ok: #1a7f37; --bad: #cf222e; --err: #9a6700; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.55 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328; margin: 0;
       background: #fff; }
main { max-width: 1080px; margin: 0 auto; padding: 28px 32px 60px; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 44px 0 6px; padding-top: 14px; border-top: 1px solid var(--line); }
.run { color: var(--muted); margin: 0 0 14px; font-size: 13px; }
.note { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 8px 12px; font-size: 14px; }
.headline { font-size: 17px; font-weight: 600; margin: 10px 0 16px; }
table { border-collapse: collapse; margin: 10px 0 18px; font-size: 13.5px; }
th, td { border: 1px solid var(--line); padding: 5px 9px; text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.summary { width: 100%; }
table.summary td:first-child { white-space: nowrap; font-weight: 600; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 11px; font-size: 12.5px; font-weight: 600;
         white-space: nowrap; color: #fff; }
.badge.holds { background: var(--ok); } .badge.no { background: var(--bad); } .badge.error { background: var(--err); }
.verdict { border-left: 5px solid; padding: 9px 14px; margin: 12px 0 16px; border-radius: 0 6px 6px 0; }
.verdict.holds { border-color: var(--ok); background: #dafbe1; }
.verdict.no { border-color: var(--bad); background: #ffebe9; }
.verdict.error { border-color: var(--err); background: #fff8c5; }
.meta { color: var(--muted); font-size: 13px; margin: 2px 0; }
figure { margin: 14px 0 22px; }
figure img { max-width: 100%; max-height: 680px; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 12.5px; }
code { background: var(--bg); padding: 1px 4px; border-radius: 4px; font-size: 90%; }
pre { background: var(--bg); padding: 10px 12px; border-radius: 6px; overflow-x: auto; font-size: 12px;
      max-height: 420px; }
details { margin: 8px 0; } summary { cursor: pointer; color: var(--muted); }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
"""

_BADGE = {True: ("holds", "holds"), False: ("no", "does not hold"), None: ("error", "error")}


def render_html(results: dict[str, Any], out_dir: str | Path | None = None) -> str:
    """``report.html``: the same content as :func:`render_markdown`, figures embedded as base64 PNGs."""
    base = Path(out_dir) if out_dir is not None else None
    e = html.escape
    body = [
        "<h1>losslab: do the papers' claims hold here?</h1>",
        f'<p class="run">{_inline(_run_line(results))}</p>',
        f'<p class="note">{_inline(SMOKE_NOTE)}</p>' if results.get("profile") == "smoke" else "",
        f'<p class="headline">{e(_headline(results))}</p>',
        '<table class="summary"><thead><tr><th>experiment</th><th>claim</th><th>result</th><th>key numbers</th>'
        '<th class="num">seconds</th><th class="num" title="CPU time of the job: what the run costs on an idle '
        'core">CPU s</th></tr></thead><tbody>',
    ]
    for row in summary_rows(results):
        key = _holds_key(results["experiments"][row["name"]])
        cls, label = _BADGE[key]
        body.append(
            f'<tr><td><a href="#{_anchor(row["name"])}">{e(row["name"])}</a></td><td>{e(row["claim"])}</td>'
            f'<td><span class="badge {cls}">{label}</span></td><td>{_inline(row["key"])}</td>'
            f'<td class="num">{row["seconds"]}</td><td class="num">{row["cpu"]}</td></tr>'
        )
    body.append("</tbody></table>")
    for name, r in results["experiments"].items():
        body += _html_section(name, r, base)
    title = f"losslab report ({results['profile']}, seed {results['seed']})"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head>\n<body><main>\n"
        + "\n".join(body)
        + "\n</main></body></html>\n"
    )


def _html_section(name: str, r: dict[str, Any], base: Path | None) -> list[str]:
    e = html.escape
    key = _holds_key(r)
    cls = _BADGE[key][0]
    out = [f'<h2 id="{_anchor(name)}">{e(name)}: {e(r.get("title", name))}</h2>']
    if r.get("paper"):
        out.append(f'<p class="meta">Paper: {e(r["paper"])}</p>')
    out.append(f"<p><strong>Claim:</strong> {e(r.get('expected', ''))}</p>")
    if key is None:
        lead = "The experiment failed to run:"
        text = f"<code>{e(r.get('error', ''))}</code>"
    elif key:
        lead, text = "The claim holds here.", _inline(r.get("verdict", ""))
    else:
        lead, text = "The claim does not hold here.", _inline(r.get("verdict", ""))
    out.append(f'<div class="verdict {cls}"><strong>{lead}</strong> {text}</div>')
    if r.get("table"):
        out.append(markdown_to_html(r["table"]))
    for fig in r.get("figures", []):
        out.append(_figure(fig, base, name))
    out.append(f"<details><summary>measured numbers (metrics)</summary><pre>{e(_details_json(r))}</pre></details>")
    if r.get("traceback"):
        out.append(f"<details open><summary>traceback</summary><pre>{e(r['traceback'])}</pre></details>")
    out.append(
        f'<p class="meta">Profile <code>{e(str(r.get("profile", "")))}</code>, seed {e(str(r.get("seed", "")))}, '
        f"{float(r.get('seconds', 0.0)):.1f} s.</p>"
    )
    return out


def _figure(fig: str, base: Path | None, name: str) -> str:
    e = html.escape
    path = Path(fig)
    if base is not None and not path.is_absolute():
        path = base / path
    caption = e(Path(fig).name)
    try:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError:
        return f'<p class="meta">(figure {caption} is missing)</p>'
    return (
        f'<figure><img alt="{e(name)}: {e(Path(fig).stem)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


_TOKEN = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*")


def _inline(text: str) -> str:
    """Escape ``text`` and render Markdown's inline ``code``, **bold** and *emphasis*."""
    out, pos = [], 0
    for m in _TOKEN.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        code, bold, em = m.groups()
        if code is not None:
            out.append(f"<code>{html.escape(code)}</code>")
        elif bold is not None:
            out.append(f"<strong>{html.escape(bold)}</strong>")
        else:
            out.append(f"<em>{html.escape(em)}</em>")
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


_NUMBER = re.compile(r"^[-+−]?(\d[\d,]*\.?\d*|\.\d+)([eE][-+]?\d+)?\s*(%|x|s)?$")


def markdown_to_html(text: str) -> str:
    """The subset of Markdown the experiments write: pipe tables, paragraphs, inline code/bold/emphasis.

    Example:
        >>> print(markdown_to_html("| a | b |\\n|---|---|\\n| x | 1.5 |"))
        <table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>x</td><td class="num">1.5</td></tr></tbody></table>
    """
    blocks: list[str] = []
    lines = text.strip("\n").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        if line.startswith("|") and i + 1 < len(lines) and re.match(r"^\|?\s*:?-{2,}", lines[i + 1].strip()):
            header = _cells(line)
            i += 2
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_cells(lines[i].strip()))
                i += 1
            blocks.append(_table(header, rows))
            continue
        para = [line]
        i += 1
        while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith("|"):
            para.append(lines[i].strip())
            i += 1
        blocks.append(f"<p>{_inline(' '.join(para))}</p>")
    return "\n".join(blocks)


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)]


def _table(header: list[str], rows: list[list[str]]) -> str:
    def td(tag: str, c: str) -> str:
        num = ' class="num"' if tag == "td" and _NUMBER.match(c.replace("**", "")) else ""
        return f"<{tag}{num}>{_inline(c)}</{tag}>"

    head = "".join(td("th", c) for c in header)
    body = "".join("<tr>" + "".join(td("td", c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ---------------------------------------------------------------------------------------------------------------


def write_report(results: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, page = out / "report.md", out / "report.html"
    md.write_text(render_markdown(results), encoding="utf-8")
    page.write_text(render_html(results, out), encoding="utf-8")
    return md, page


def main(argv: Sequence[str] | None = None) -> int:
    """Rebuild the report of a finished run: ``python -m losslab.experiments.report DIR``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m losslab.experiments.report DIR", file=sys.stderr)
        return 2
    out = Path(args[0])
    results = json.loads((out / "results.json").read_text())
    md, page = write_report(results, out)
    print(page)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
