"""Writing a fleet's result: the report (HTML with the picture, or the picture alone as SVG or
PNG) and the per-device table (CSV), plus :func:`output_problem`, which checks an output path
before a run starts so that hours of simulation never end in "cannot write"."""

from __future__ import annotations

import csv
import html
import os
from pathlib import Path
from typing import Any

from ..durations import format_duration
from ..timeline import COLORS, html_page, png_problem, svg_to_png
from .chart import LOAD_WORDS, PATH_WORDS, facts, render_svg
from .observe import FIELDS

__all__ = ["REPORT_KINDS", "output_problem", "render_html", "write_csv", "write_report"]

REPORT_KINDS = (".html", ".htm", ".svg", ".png")
TIME_FIELDS = frozenset(f for f in FIELDS if f.endswith("_us"))


def output_problem(path: str | os.PathLike, kinds: tuple[str, ...] | None, what: str) -> str | None:
    """Why ``path`` cannot take this output (an extension not in ``kinds``, a missing directory,
    no permission, PNG support missing), or None."""
    p = Path(path)
    ext = p.suffix.lower()
    if kinds is not None and ext not in kinds:
        return f"{what} {path}: name the file {', '.join(k for k in kinds if k != '.htm')}"
    if p.is_dir():
        return f"{what} {path}: is a directory"
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        return f"{what} {path}: no such directory {parent}"
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        return f"{what} {path}: not writable"
    if ext == ".png":
        problem = png_problem()
        if problem:
            return f"{what} {path}: {problem}"
    return None


def write_report(result: Any, path: str | os.PathLike) -> Path:
    path = Path(path)
    problem = output_problem(path, REPORT_KINDS, "report")
    if problem:
        raise ValueError(problem)
    ext = path.suffix.lower()
    if ext == ".png":
        return svg_to_png(render_svg(result), path)
    text = render_svg(result) if ext == ".svg" else render_html(result)
    path.write_text(text, encoding="utf-8")
    return path


def write_csv(result: Any, path: str | os.PathLike) -> Path:
    """One row per device; times in seconds from the start of the run (empty: never)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([f.removesuffix("_us") + "_s" if f in TIME_FIELDS else f for f in FIELDS])
        for row in result.rows():
            w.writerow(["" if row[k] is None else (_seconds(row[k]) if k in TIME_FIELDS else row[k]) for k in FIELDS])
    return path


def _seconds(us: int) -> str:
    text = f"{us / 1_000_000:.6f}".rstrip("0").rstrip(".")
    return text


def render_html(result: Any, relative_to: str | os.PathLike | None = None) -> str:
    s = result.summary()
    esc = html.escape
    rows = [("Devices", f"{s['devices']} ({', '.join(f'{g.name} {n}' for g, n in result.plan.config.group_sizes(result.plan.devices))})"),
            ("Virtual time", format_duration(result.plan.duration_us)),
            ("Releases", ", ".join(e.to_cli(relative_to) for e in result.plan.events) or "none"),
            ("Updated", f"{s['updated']}" + "".join(f" · {PATH_WORDS[p]} {n}" for p, n in s["by_path"].items())),
            ("Forced", str(s["forced"])),
            ("Never updated", f"{s['never_updated']} (released to them, still pending at the end)"),
            ("Crash loops", str(s["crash_loops"])),
            ("Deferrals", str(s["deferrals"])),
            ("Time from the release", " · ".join(f"{k}: {v or 'not reached'}" for k, v in s["time_to"].items())),
            ("Messages, device→agent", str(s["messages"])),
            ("Agent HTTP requests", str(s["http_requests"]))]
    if s["not_released"]:
        rows.insert(5, ("Not released", f"{s['not_released']} (their group's release comes after the end)"))
    table = "\n".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    herd_rows = []
    for name, h in (s["herd"] or {}).items():
        verdict = "<b>thundering herd</b>" if h["herd"] else "no herd"
        ratio = "–" if h["ratio"] is None else f"{h['ratio']:g}×"
        herd_rows.append(f"<tr class=\"{'herd' if h['herd'] else ''}\"><td>{esc(LOAD_WORDS[name])}</td>"
                         f"<td>{h['baseline_per_minute']:g}</td><td>{h['busiest_before']}</td><td>{h['peak_per_minute']}</td>"
                         f"<td>{esc(h['peak_at'])}</td><td>{ratio}</td><td>{verdict}</td></tr>")
    herd = ""
    if herd_rows:
        herd = ("<h2>Backend load after the release</h2><p class=\"note\">Per minute: the mean and the busiest "
                "minute before the release, against the busiest minute after it (a thundering herd: at least "
                f"{result.plan.config.herd_factor:g}× the busiest minute before, and 5 more).</p><table><tr>"
                "<th>Load</th><th>Mean before</th><th>Busiest before</th><th>Peak after</th>"
                "<th>At</th><th>Ratio</th><th></th></tr>" + "\n".join(herd_rows) + "</table>")
    outliers = result.outliers(relative_to)
    out_rows = "\n".join(f"<tr><td>{esc(x.kind)}</td><td>{x.index}</td><td>{esc(x.why)}</td>"
                         f"<td><code>{esc(x.command)}</code></td></tr>" for x in outliers)
    out_html = ("<h2>Outliers</h2><p class=\"note\">One device of each kind; its command replays it alone, "
                "exactly (run it where the fleet ran: its paths are relative to that directory).</p><table><tr><th>Kind</th><th>Device</th><th>What happened</th><th>Replay</th></tr>"
                + out_rows + "</table>") if outliers else ""
    title = f"impsim fleet · {Path(result.device_file).name}"
    body = f"""<h1>{esc(title)}</h1>
<p class="facts">{esc(" · ".join(facts(result)))}</p>
<div class="figure">{render_svg(result)}</div>
<h2>Summary</h2>
<table>{table}</table>
{herd}
{out_html}
"""
    extra = f""".note {{ color: {COLORS["muted"]}; font-size: 13px; margin: 0 0 14px; }}
tr.herd td {{ color: {COLORS["error"]}; }}
code {{ font-size: 12px; word-break: break-all; }}
"""
    return html_page(title, body, extra)
