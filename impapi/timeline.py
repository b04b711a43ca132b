"""Draw a run: device and agent lanes over virtual time, as SVG, HTML or PNG.

    from impapi.timeline import write_timeline
    write_timeline("run.svg", sim)                  # or .html / .png
    write_timeline("run.png", sim.events, duration_us=sim.clock.now_us, epoch=sim.log.epoch)

Lanes, top to bottom:

- **impCloud updates**: one bar per update from its release until it is applied (or the run
  ends), impOS and Squirrel on their own rows; dots where the shutdown handler heard of it.
- **Device**: its state (running, booting, asleep, snoozing, off) and beneath it, as a thin band,
  whether it is connected; network outages as red hatched windows; markers for restarts with
  their wake reason, shutdown-handler calls, deferrals, updates applied (forced ones in magenta
  with a label), runtime errors and power changes. Routine timer wakes show only as the green
  running slivers.
- **Agent**: running, with its restarts.

The SVG is deterministic (same events, same bytes), carries ``class`` and ``data-*`` attributes
(``data-time-us``, ``data-start-us``...) so tests and tools can find things in it, and a
``<title>`` tooltip on each mark. PNG output rasterises the SVG with resvg (:func:`svg_to_png`).
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .durations import DEFAULT_EPOCH, MS, D, H, M, S, format_duration
from .timeline_model import (
    STATES,
    DeviceLane,
    Marker,
    TimelineModel,
    UpdateSpan,
    build_model,
    path_words,
)

__all__ = ["COLORS", "FORMATS", "TimelineError", "build_model", "check_output", "png_problem", "render_html",
           "render_png", "render_svg", "svg_to_png", "write_timeline"]


class TimelineError(ValueError):
    """The timeline cannot be written (unknown file type, a directory that is not there)."""


COLORS = {
    "running": "#22c55e",
    "booting": "#facc15",
    "asleep": "#bfdbfe",
    "snoozing": "#e0e7ff",
    "snoozing-hatch": "#818cf8",
    "off": "#f1f5f9",
    "off-hatch": "#94a3b8",
    "connected": "#0d9488",
    "offline": "#e2e8f0",
    "outage": "#dc2626",
    "outage-tint": "#fee2e2",
    "squirrel": "#2563eb",
    "impos": "#7c3aed",
    "forced": "#e0007a",
    "handler": "#ea580c",
    "error": "#b91c1c",
    "restart": "#334155",
    "power": "#0f172a",
    "agent": "#86efac",
    "io-out": "#0369a1",
    "io-in": "#c2410c",
    "text": "#0f172a",
    "muted": "#64748b",
    "grid": "#e2e8f0",
    "axis": "#94a3b8",
    "background": "#ffffff",
}
FONT = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif"
STATE_LABELS = {"running": "running", "booting": "booting", "asleep": "asleep", "snoozing": "snoozing (reconnecting)",
                "off": "off"}

# Geometry (px).
LEFT = 132
RIGHT = 36
TOP = 62
LABEL_ROW = 17
MAX_LABEL_ROWS = 4
GLYPH_ROW = 34  # three slots of glyphs above the state band: see _GLYPH_SLOT
_GLYPH_SLOT = {"restart": 0, "update": 1, "power": 1, "error": 1, "handler": 2, "deferred": 2}
STATE_H = 30
CONN_GAP = 3
CONN_H = 8
LANE_GAP = 26
UPDATE_ROW = 20
AGENT_H = 12
AXIS_H = 44
IO_ROW = 11  # one row per pin or bus the app used
IO_ROWS_MAX = 12  # more than this: the busiest, and a note of the rest
MIN_SLIVER = 1.6  # px: the narrowest visible interval (a wake takes no virtual time)

_NICE_STEPS = [
    1 * MS, 2 * MS, 5 * MS, 10 * MS, 20 * MS, 50 * MS, 100 * MS, 200 * MS, 500 * MS,
    1 * S, 2 * S, 5 * S, 10 * S, 15 * S, 30 * S, 1 * M, 2 * M, 5 * M, 10 * M, 15 * M, 30 * M,
    1 * H, 2 * H, 3 * H, 6 * H, 12 * H, 1 * D, 2 * D, 3 * D, 5 * D, 7 * D, 14 * D, 28 * D, 56 * D, 112 * D,
]


# --- entry points -------------------------------------------------------------------------------


def render_svg(events: Any, *, duration_us: int | None = None, epoch: datetime | None = None,
               title: str | None = None, width: int = 1200) -> str:
    """The timeline as an SVG document. ``events`` is a list of :class:`impapi.events.Event`, or a
    :class:`~impapi.Simulation` (its events, current time and epoch are used unless given)."""
    model, epoch, title = _inputs(events, duration_us, epoch, title)
    return _Renderer(model, epoch, title, width).svg()


def render_html(events: Any, *, duration_us: int | None = None, epoch: datetime | None = None,
                title: str | None = None, width: int = 1200) -> str:
    """A standalone HTML page: the SVG with a title and summary tables (no external resources)."""
    model, epoch, title = _inputs(events, duration_us, epoch, title)
    renderer = _Renderer(model, epoch, title, width)
    svg = renderer.svg(standalone=False)  # the page carries the title and the facts
    return _html_page(model, epoch, title, svg, renderer.facts())


def render_png(events: Any, path: str | os.PathLike, *, duration_us: int | None = None,
               epoch: datetime | None = None, title: str | None = None, width: int = 1200,
               scale: float = 2.0) -> Path:
    """Rasterise the SVG to ``path`` at ``scale`` device pixels per SVG pixel (2: sharp on
    high-density screens)."""
    svg = render_svg(events, duration_us=duration_us, epoch=epoch, title=title, width=width)
    return svg_to_png(svg, path, scale=scale)


def svg_to_png(svg: str, path: str | os.PathLike, *, scale: float = 2.0,
               background: str = COLORS["background"]) -> Path:
    """Rasterise an SVG document to a PNG file: every picture impsim writes as PNG goes through
    here. resvg draws it (a self-contained wheel: no system library), with the system's fonts."""
    import resvg_py

    try:
        png = resvg_py.svg_to_bytes(svg_string=svg, zoom=scale, background=background)
    except ValueError as e:  # resvg refused the document: a bug of ours, said plainly
        raise TimelineError(f"could not rasterise the timeline: {e}") from None
    path = Path(path)
    path.write_bytes(bytes(png))
    return path


def png_problem() -> str | None:
    """Why PNG files cannot be written here (and what to do), or None when they can."""
    try:
        import resvg_py  # noqa: F401
    except ImportError as e:
        return f"PNG output needs the resvg-py package ({e}): pip install resvg-py, or write .svg or .html"
    return None


FORMATS = {".svg": "SVG", ".html": "HTML", ".htm": "HTML", ".png": "PNG"}


def check_output(path: str | os.PathLike) -> Path:
    """``path`` if a timeline can be written there, checked before a run spends any time:
    a known extension, PNG support when it is ``.png``, and a directory that exists. Raises
    :class:`TimelineError` saying what to do otherwise."""
    path = Path(path)
    ext = path.suffix.lower()
    if path.is_dir():
        raise TimelineError(f"{path}: is a directory; name the timeline file, e.g. {path / 'run.svg'}")
    if ext not in FORMATS:
        raise TimelineError(f"{path}: unknown timeline format {ext or '(no extension)'!r}: "
                            "name the file .svg, .html or .png")
    if ext == ".png" and (problem := png_problem()):
        raise TimelineError(f"{path}: {problem}")
    parent = path.parent
    if not parent.is_dir():
        raise TimelineError(f"{path}: the directory {parent} does not exist; create it or write the timeline elsewhere")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise TimelineError(f"{path}: the directory {parent} is not writable; write the timeline elsewhere")
    return path


def write_timeline(path: str | os.PathLike, events: Any, **options: Any) -> Path:
    """Write the timeline to ``path``; the extension picks the format: ``.svg``, ``.html`` (or
    ``.htm``) or ``.png``. ``options`` are those of :func:`render_svg` (and ``scale`` for PNG)."""
    path = check_output(path)
    ext = path.suffix.lower()
    if ext == ".png":
        return render_png(events, path, **options)
    text = render_svg(events, **options) if ext == ".svg" else render_html(events, **options)
    path.write_text(text, encoding="utf-8")
    return path


def _inputs(events: Any, duration_us: int | None, epoch: datetime | None,
            title: str | None) -> tuple[TimelineModel, datetime, str]:
    if hasattr(events, "events") and hasattr(events, "clock"):  # a Simulation
        sim = events
        events = sim.events
        duration_us = sim.clock.now_us if duration_us is None else duration_us
        epoch = epoch or getattr(getattr(sim, "log", None), "epoch", None)
        if title is None and getattr(sim, "device", None) is not None:
            title = f"impsim · {Path(sim.device.filename).name}"
    epoch = epoch or DEFAULT_EPOCH
    if epoch.tzinfo is None:
        epoch = epoch.replace(tzinfo=timezone.utc)
    if not isinstance(events, Iterable):
        raise TypeError(f"a timeline needs a list of events or a Simulation, not {type(events).__name__}")
    return build_model(events, duration_us), epoch, title or "impsim timeline"


# --- drawing ------------------------------------------------------------------------------------


def _f(v: float) -> str:
    """A coordinate, compact and deterministic."""
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def html_page(title: str, body: str, extra_css: str = "") -> str:
    """A report page in the style the timeline and the fleet report share: ``body`` under it,
    ``extra_css`` for what only that page has."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(title)}</title>
<style>
body {{ font-family: {FONT}; color: {COLORS["text"]}; margin: 24px; background: #f8fafc; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }}
.facts {{ color: {COLORS["muted"]}; font-size: 13px; margin: 0 0 14px; }}
h2 {{ font-size: 15px; margin: 24px 0 8px; }}
.figure {{ background: #fff; border: 1px solid {COLORS["grid"]}; border-radius: 8px; padding: 8px; overflow-x: auto; }}
.figure svg {{ display: block; max-width: 100%; height: auto; }}
table {{ border-collapse: collapse; background: #fff; font-size: 13px; }}
th, td {{ text-align: left; padding: 5px 12px; border-bottom: 1px solid {COLORS["grid"]}; vertical-align: top; }}
th {{ color: {COLORS["muted"]}; font-weight: 600; }}
{extra_css}</style>
</head>
<body>
{body}</body>
</html>
"""


# Advance widths of DejaVu Sans and DejaVu Sans Bold (per 1000 em) for printable ASCII and a few
# symbols, read from the fonts: labels are measured, not guessed, so they never overlap.
_GLYPHS = "".join(chr(c) for c in range(32, 127)) + "·→–×"
_REGULAR = (
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636, 636,
    636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656,
    557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613,
    635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818,
    592, 592, 525, 636, 337, 636, 838, 318, 838, 500, 838,
)
_BOLD = (
    348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696, 696, 696,
    696, 696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372, 775,
    637, 995, 837, 850, 733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838, 500, 500, 675,
    716, 593, 716, 678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595, 478, 712, 652, 924,
    645, 652, 582, 712, 365, 712, 838, 380, 838, 500, 838,
)
_ADVANCE = {False: dict(zip(_GLYPHS, _REGULAR)), True: dict(zip(_GLYPHS, _BOLD))}


def text_width(text: str, size: float, bold: bool = False) -> float:
    """The width of ``text`` set in DejaVu Sans (the font the PNG uses), in px."""
    table = _ADVANCE[bold]
    return sum(table.get(c, 1000 if ord(c) > 0x2000 else 700) for c in text) * size / 1000


@dataclass
class _Placed:
    marker: Marker
    x: float
    row: int | None
    x0: float = 0.0
    x1: float = 0.0
    anchor_end: bool = False


class _Renderer:
    def __init__(self, model: TimelineModel, epoch: datetime, title: str, width: int) -> None:
        if width < 400:
            raise TimelineError(f"a timeline needs to be at least 400 px wide, not {width}")
        self.m = model
        self.epoch = epoch
        self.title = title
        self.width = width
        self.plot_w = width - LEFT - RIGHT
        self.out: list[str] = []

    def x(self, t_us: int) -> float:
        return LEFT + self.plot_w * t_us / self.m.duration_us

    # -- the document ------------------------------------------------------------------------

    def svg(self, standalone: bool = True) -> str:
        body: list[str] = []
        self.out = body
        y: float = TOP if standalone else 26
        lanes_top = y
        if self.m.updates:
            y = self._updates_lane(y)
        for lane in self.m.devices:
            y = self._device_lane(lane, y)
        if self.m.agent:
            y = self._agent_lane(y)
        if not self.m.devices and not self.m.agent and not self.m.updates:
            body.append(f'<text x="{_f(LEFT + self.plot_w / 2)}" y="{_f(y + 20)}" text-anchor="middle" '
                        f'font-size="13" fill="{COLORS["muted"]}">no events recorded</text>')
            y += 40
        lanes_bottom = y - LANE_GAP + 8
        grid = self._axis(lanes_top - 8, lanes_bottom)
        y = lanes_bottom + AXIS_H
        legend, y = self._legend(y + 6)
        height = int(y + 14)
        head = [
            '<?xml version="1.0" encoding="UTF-8"?>' if standalone else "",
            (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{height}" '
            f'viewBox="0 0 {self.width} {height}" font-family="{FONT}" class="impsim-timeline" '
            f'data-duration-us="{self.m.duration_us}" data-plot-left="{LEFT}" data-plot-width="{self.plot_w}">'),
            f"<title>{_esc(self.title)}</title>",
            self._defs(),
            f'<rect class="background" x="0" y="0" width="{self.width}" height="{height}" fill="{COLORS["background"]}"/>',
            *(self._heading() if standalone else []),
            *grid,
        ]
        return "\n".join(part for part in head + body + legend + ["</svg>"] if part) + "\n"

    def _defs(self) -> str:
        def hatch(name: str, bg: str, fg: str, gap: int = 6, stroke: float = 1.6) -> str:
            return (f'<pattern id="{name}" patternUnits="userSpaceOnUse" width="{gap}" height="{gap}" '
                    f'patternTransform="rotate(45)"><rect width="{gap}" height="{gap}" fill="{bg}"/>'
                    f'<line x1="0" y1="0" x2="0" y2="{gap}" stroke="{fg}" stroke-width="{stroke}"/></pattern>')

        return ("<defs>" + hatch("hatch-snoozing", COLORS["snoozing"], COLORS["snoozing-hatch"])
                + hatch("hatch-off", COLORS["off"], COLORS["off-hatch"], 5, 1.2)
                + hatch("hatch-outage", COLORS["outage-tint"], COLORS["outage"], 5, 1.4) + "</defs>")

    def _fill(self, state: str) -> str:
        if state == "snoozing":
            return "url(#hatch-snoozing)"
        if state == "off":
            return "url(#hatch-off)"
        return COLORS.get(state, COLORS["muted"])

    def _heading(self) -> list[str]:
        return [
            (f'<text class="title" x="{LEFT - 110}" y="30" font-size="18" font-weight="bold" '
             f'fill="{COLORS["text"]}">{_esc(self.title)}</text>'),
            (f'<text class="subtitle" x="{LEFT - 110}" y="49" font-size="12" fill="{COLORS["muted"]}">'
             f'{_esc(" · ".join(self.facts()))}</text>'),
        ]

    def facts(self) -> list[str]:
        """The run in a line: span, boots, updates, outages, errors."""
        m = self.m
        start = self.epoch.strftime("%Y-%m-%d %H:%M UTC")
        stop = (self.epoch + timedelta(microseconds=m.duration_us)).strftime("%Y-%m-%d %H:%M UTC")
        boots = sum(sum(ln.boots.values()) for ln in m.devices)
        applied = [u for u in m.updates if u.applied_us is not None]
        forced = sum(1 for u in applied if u.forced)
        facts = [f"{format_duration(m.duration_us)} of virtual time, {start} → {stop}", f"{boots} boots",
                 f"{len(applied)} updates applied" + (f" ({forced} forced)" if forced else "")]
        if m.outages:
            facts.append(f"{len(m.outages)} outage{'s' if len(m.outages) != 1 else ''}")
        if m.errors:
            facts.append(f"{m.errors} error{'s' if m.errors != 1 else ''}")
        return facts

    def _lane_title(self, y: float, text: str, sub: str | None = None) -> None:
        self.out.append(f'<text class="lane-title" x="{LEFT - 12}" y="{_f(y)}" text-anchor="end" font-size="13" '
                        f'font-weight="bold" fill="{COLORS["text"]}">{_esc(text)}</text>')
        if sub:
            self.out.append(f'<text x="{LEFT - 12}" y="{_f(y + 13)}" text-anchor="end" font-size="10" '
                            f'fill="{COLORS["muted"]}">{_esc(sub)}</text>')

    # -- lanes -------------------------------------------------------------------------------

    def _updates_lane(self, y: float) -> float:
        kinds = [k for k in ("impos", "squirrel") if any(u.update == k for u in self.m.updates)]
        o = self.out
        o.append('<g class="lane lane-updates" data-lane="updates">')
        self._lane_title(y + 13, "impCloud", "updates pending")
        for row, kind in enumerate(kinds):
            top = y + row * (UPDATE_ROW + 6)
            o.append(f'<line x1="{LEFT}" y1="{_f(top + UPDATE_ROW / 2)}" x2="{LEFT + self.plot_w}" '
                     f'y2="{_f(top + UPDATE_ROW / 2)}" stroke="{COLORS["grid"]}" stroke-dasharray="2 4"/>')
            spans = [u for u in self.m.updates if u.update == kind]
            bars = [self._bar_extent(u) for u in spans]
            taken: list[tuple[float, float]] = []
            for i, span in enumerate(spans):
                others = bars[:i] + bars[i + 1:]
                self._update_bar(span, top, others, taken)
        o.append("</g>")
        return y + len(kinds) * (UPDATE_ROW + 6) - 6 + LANE_GAP

    def _bar_extent(self, span: UpdateSpan) -> tuple[float, float]:
        end = span.end_us if span.end_us is not None else self.m.duration_us
        x0 = self.x(span.released_us)
        w = max(self.x(end) - x0, 3.0)
        return x0 - 6, x0 + w + 7  # with the diamond at the end

    def _update_bar(self, span: UpdateSpan, top: float, others: list[tuple[float, float]],
                    taken: list[tuple[float, float]]) -> None:
        o = self.out
        end = span.end_us if span.end_us is not None else self.m.duration_us
        x0, x1 = self.x(span.released_us), self.x(end)
        w = max(x1 - x0, 3.0)
        color = COLORS["forced"] if span.forced else COLORS[span.update]
        state = "applied" if span.applied_us is not None else "superseded" if span.superseded_us is not None else "pending"
        tip = [f"{span.title}: released at {format_duration(span.released_us)}"]
        if span.announced_us is not None:
            tip.append(f"announced at {format_duration(span.announced_us)}")
        if span.handler_us:
            tip.append(f"handler called at {', '.join(format_duration(t) for t in span.handler_us)}")
        if span.deferred_us:
            tip.append(f"deferred {len(span.deferred_us)}×")
        if span.applied_us is not None:
            tip.append(f"applied at {format_duration(span.applied_us)} ({path_words(span.path)}), "
                       f"pending {format_duration(span.applied_us - span.released_us)}")
        elif span.superseded_us is not None:
            tip.append(f"replaced by a newer release at {format_duration(span.superseded_us)}")
        else:
            tip.append("still pending at the end")
        o.append(f'<g class="update-span {span.update}{" forced" if span.forced else ""} {state}" '
                 f'data-update="{span.update}" data-version="{_esc(span.version)}" '
                 f'data-start-us="{span.released_us}" data-end-us="{end}">')
        o.append(f"<title>{_esc('; '.join(tip))}</title>")
        dash = ' stroke-dasharray="4 3"' if state != "applied" else ""
        if w >= 10:
            o.append(f'<rect x="{_f(x0)}" y="{_f(top)}" width="{_f(w)}" height="{UPDATE_ROW}" rx="4" fill="{color}" '
                     f'fill-opacity="0.16" stroke="{color}" stroke-width="1.3"{dash}/>')
        else:  # pending too briefly to be a bar at this scale: a tick from release to application
            o.append(f'<rect x="{_f(x0)}" y="{_f(top + UPDATE_ROW / 2 - 1.5)}" width="{_f(w)}" height="3" '
                     f'fill="{color}"/>')
        if span.applied_us is not None:
            cx, cy = x0 + w, top + UPDATE_ROW / 2
            o.append(f'<path class="applied-mark" d="M{_f(cx)} {_f(cy - 7)} L{_f(cx + 6)} {_f(cy)} L{_f(cx)} '
                     f'{_f(cy + 7)} L{_f(cx - 6)} {_f(cy)} Z" fill="{color}" stroke="#fff" stroke-width="1"/>')
        for t in span.handler_us:
            o.append(f'<circle class="handler-dot" cx="{_f(self.x(t))}" cy="{_f(top + UPDATE_ROW / 2)}" r="3.4" '
                     f'fill="{COLORS["handler"]}" stroke="#fff" stroke-width="1" data-time-us="{t}"/>')
        label = span.title + (" · still pending" if state == "pending" else " · replaced" if state == "superseded" else "")
        lw = text_width(label, 11, bold=True)

        def free(a: float, b: float, obstacles: list[tuple[float, float]]) -> bool:
            return LEFT - 2 <= a and b <= self.width - 4 and all(b + 4 <= p or a >= q + 4 for p, q in obstacles)

        # Inside the bar if it is long enough, else beside it; never over another bar or label.
        spots = []
        if w >= lw + 12:
            spots.append((x0 + 6, x0 + 6 + lw, taken))
        spots += [(x0 + w + 10, x0 + w + 10 + lw, taken + others), (x0 - 8 - lw, x0 - 8, taken + others)]
        for a, b, obstacles in spots:
            if free(a, b, obstacles):
                taken.append((a, b))
                o.append(f'<text class="label" x="{_f(a)}" y="{_f(top + 14)}" font-size="11" font-weight="bold" '
                         f'fill="{color}">{_esc(label)}</text>')
                break
        o.append("</g>")

    def _device_lane(self, lane: DeviceLane, y: float) -> float:
        o = self.out
        placed, rows = self._place_labels([mk for mk in lane.markers if mk.label], y)
        placed += [_Placed(mk, self.x(mk.time_us), None) for mk in lane.markers if not mk.label and mk.kind != "wake"]
        labels_h = max(rows, 1) * LABEL_ROW
        band_top = y + labels_h + GLYPH_ROW
        band_bottom = band_top + STATE_H
        conn_top = band_bottom + CONN_GAP
        lane_bottom = conn_top + CONN_H
        o.append(f'<g class="lane lane-device" data-lane="device" data-device="{_esc(str(lane.key or ""))}">')
        self._lane_title(band_top + 13, lane.name, "state")
        o.append(f'<text x="{LEFT - 12}" y="{_f(conn_top + CONN_H)}" text-anchor="end" font-size="10" '
                 f'fill="{COLORS["muted"]}">connected</text>')

        # State band: quiet states first (bridging the sub-pixel gaps that brief wakes leave), then
        # the short-lived ones on top with a minimum width.
        o.append(f'<rect class="band-frame" x="{LEFT}" y="{_f(band_top)}" width="{_f(self.plot_w)}" height="{STATE_H}" '
                 f'fill="#f8fafc"/>')
        for layer in (("asleep", "snoozing", "off"), ("booting",), ("running",)):
            background = "asleep" in layer
            for x0, w, state, s, e, n, brief in self._merged(lane.states, layer, bridge=background):
                tip = f"{STATE_LABELS.get(state, state)} {format_duration(s)} → {format_duration(e)}"
                if n > 1:
                    tip = f"{n}× {STATE_LABELS.get(state, state)} between {format_duration(s)} and {format_duration(e)}"
                # Wakes too short to see at this scale are ticks along the top of the band, so a
                # device that sleeps 99% of the time still looks asleep.
                tick = brief and not background
                o.append(f'<rect class="state state-{state}{" brief" if brief else ""}" x="{_f(x0)}" '
                         f'y="{_f(band_top)}" width="{_f(w)}" height="{_f(STATE_H * 0.4 if tick else STATE_H)}" '
                         f'fill="{self._fill(state)}"{self._density(tick, n)} data-start-us="{s}" data-end-us="{e}">'
                         f"<title>{_esc(tip)}</title></rect>")
        for x0, w, value, s, e, n, brief in self._merged(lane.connection, ("offline",), bridge=True) + \
                self._merged(lane.connection, ("connected",)):
            tip = f"{value} {format_duration(s)} → {format_duration(e)}"
            if n > 1:
                tip = f"{n}× {value} between {format_duration(s)} and {format_duration(e)}"
            o.append(f'<rect class="conn conn-{value}{" brief" if brief else ""}" x="{_f(x0)}" y="{_f(conn_top)}" '
                     f'width="{_f(w)}" height="{CONN_H}" fill="{COLORS[value]}"'
                     f'{self._density(brief and value == "connected", n)} data-start-us="{s}" data-end-us="{e}">'
                     f"<title>{_esc(tip)}</title></rect>")

        # Outage windows: a tint above the band, seen through over it, hatched on the connection band.
        for s, e in self.m.outages:
            x0 = self.x(s)
            w = max(self.x(e) - x0, MIN_SLIVER)
            o.append(f'<g class="outage" data-start-us="{s}" data-end-us="{e}"><title>network outage '
                     f'{format_duration(s)} → {format_duration(e)} ({format_duration(e - s)})</title>')
            o.append(f'<rect x="{_f(x0)}" y="{_f(band_top - GLYPH_ROW)}" width="{_f(w)}" height="{GLYPH_ROW}" '
                     f'fill="{COLORS["outage-tint"]}" fill-opacity="0.7"/>')
            o.append(f'<rect class="outage-window" x="{_f(x0)}" y="{_f(band_top)}" width="{_f(w)}" height="{STATE_H}" '
                     f'fill="{COLORS["outage"]}" fill-opacity="0.13" stroke="{COLORS["outage"]}" stroke-width="1" '
                     f'stroke-dasharray="3 2"/>')
            o.append(f'<rect class="outage-band" x="{_f(x0)}" y="{_f(conn_top - 1)}" width="{_f(w)}" '
                     f'height="{CONN_H + 2}" fill="url(#hatch-outage)" stroke="{COLORS["outage"]}" stroke-width="0.8"/>')
            text = f"outage {format_duration(e - s)}"
            if w >= text_width(text, 10, bold=True) + 6:
                o.append(f'<text x="{_f(x0 + w / 2)}" y="{_f(lane_bottom + 11)}" text-anchor="middle" font-size="10" '
                         f'font-weight="bold" fill="{COLORS["outage"]}">{_esc(text)}</text>')
            else:
                o.append(f'<text x="{_f(x0)}" y="{_f(lane_bottom + 11)}" font-size="10" font-weight="bold" '
                         f'fill="{COLORS["outage"]}">{_esc(text)}</text>')
            o.append("</g>")
        o.append(f'<rect x="{LEFT}" y="{_f(band_top)}" width="{_f(self.plot_w)}" height="{STATE_H}" fill="none" '
                 f'stroke="{COLORS["axis"]}" stroke-width="0.6"/>')

        # Markers: stems and labels above, glyphs just above the band.
        for p in sorted(placed, key=lambda p: (p.marker.priority, p.marker.time_us)):
            self._marker(p, y, labels_h, band_top, band_bottom)
        o.append("</g>")
        below = 14 if self.m.outages else 0
        if lane.io:
            lane_bottom = self._io_rows(lane, lane_bottom + below + 8)
            below = 0
        return lane_bottom + below + LANE_GAP

    def _io_rows(self, lane: DeviceLane, y: float) -> float:
        """One thin row per pin or bus: a tick where the app wrote or sent (blue, upper half) and
        where something outside drove or sent (orange, lower half), merged per pixel."""
        o = self.out
        rows = sorted(lane.io.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        shown = sorted(rows[:IO_ROWS_MAX], key=lambda kv: _io_order(kv[0]))
        o.append('<g class="io">')
        for name, events in shown:
            o.append(f'<g class="io-row" data-line="{_esc(name)}">')
            o.append(f'<text x="{LEFT - 12}" y="{_f(y + IO_ROW - 2)}" text-anchor="end" font-size="10" '
                     f'fill="{COLORS["muted"]}">{_esc(name)}</text>')
            o.append(f'<rect x="{LEFT}" y="{_f(y)}" width="{_f(self.plot_w)}" height="{IO_ROW - 2}" fill="#f8fafc"/>')
            columns: dict[tuple[int, str], list[tuple[int, str]]] = {}
            for t, way, text in events:
                columns.setdefault((int(self.x(t)), way), []).append((t, text))
            for (px, way), hits in sorted(columns.items()):
                top = y if way == "out" else y + (IO_ROW - 2) / 2
                first_t, first = hits[0]
                tip = f"{name} {format_duration(first_t)}: {first}"
                if len(hits) > 1:
                    tip += f" (and {len(hits) - 1} more to {format_duration(hits[-1][0])})"
                o.append(f'<rect class="io-{way}" x="{px}" y="{_f(top)}" width="1.4" height="{_f((IO_ROW - 2) / 2)}" '
                         f'fill="{COLORS["io-" + way]}" data-time-us="{first_t}" data-count="{len(hits)}">'
                         f'<title>{_esc(tip)}</title></rect>')
            o.append("</g>")
            y += IO_ROW
        if len(rows) > len(shown):
            rest = ", ".join(name for name, _ in sorted(rows[IO_ROWS_MAX:]))
            o.append(f'<text x="{LEFT}" y="{_f(y + 9)}" font-size="10" fill="{COLORS["muted"]}">'
                     f'also: {_esc(rest)}</text>')
            y += IO_ROW
        o.append("</g>")
        return y

    @staticmethod
    def _density(brief: bool, count: int) -> str:
        """Many moments too short to see, merged into one rect: drawn lighter, so frequent short
        wakes or connections do not look like one long one."""
        return ' fill-opacity="0.45"' if brief and count > 1 else ""

    def _merged(self, intervals: list, values: tuple[str, ...],
                bridge: bool = False) -> list[tuple[float, float, str, int, int, int, bool]]:
        """Pixel rects ``(x, width, value, start_us, end_us, count, brief)`` for the intervals with
        these values: each at least MIN_SLIVER wide, neighbours of the same value that touch on
        screen merged into one (long runs stay small). ``brief``: every interval in the rect is
        narrower than a pixel. ``bridge``: close gaps under a pixel (left by brief intervals of
        other values, drawn on top) by stretching a rect to its successor."""
        out: list[list] = []
        right = LEFT + self.plot_w
        near = 1.0 if bridge else 0.35
        for iv in intervals:
            if iv.value not in values:
                continue
            x0 = self.x(iv.start_us)
            true_w = self.x(iv.end_us) - x0
            w = max(true_w, MIN_SLIVER)
            if x0 + w > right:
                x0 = max(LEFT, right - w)
            if out and out[-1][2] == iv.value and x0 <= out[-1][0] + out[-1][1] + near:
                last = out[-1]
                last[1] = max(last[0] + last[1], x0 + w) - last[0]
                last[4] = iv.end_us
                last[5] += 1
                last[6] = last[6] and true_w < 1.0
            else:
                if bridge and out and 0 < x0 - (out[-1][0] + out[-1][1]) < near:
                    out[-1][1] = x0 - out[-1][0]
                out.append([x0, w, iv.value, iv.start_us, iv.end_us, 1, true_w < 1.0])
        return [tuple(r) for r in out]  # type: ignore[misc]

    def _place_labels(self, markers: list[Marker], y: float) -> tuple[list[_Placed], int]:
        """Greedy: the most important labels first, each in the lowest row where it fits beside
        its stem (to the right, or to the left near the right edge). Labels that fit nowhere are
        left to the tooltip."""
        rows: list[list[tuple[float, float]]] = [[] for _ in range(MAX_LABEL_ROWS)]
        placed: list[_Placed] = []
        right_edge = self.width - 4
        for mk in sorted(markers, key=lambda m: (-m.priority, m.time_us)):
            x = self.x(mk.time_us)
            w = text_width(mk.label, 10.5, bold=True) + (10 if mk.forced else 2)
            options = [(x + 3, x + 3 + w, False)] if x + 3 + w <= right_edge else []
            options.append((x - 3 - w, x - 3, True))
            spot = None
            for r, row in enumerate(rows):
                for x0, x1, end in options:
                    if x0 < LEFT - 2:
                        continue
                    if all(x1 + 5 <= a or x0 >= b + 5 for a, b in row):
                        spot = (r, x0, x1, end)
                        break
                if spot:
                    break
            if spot is None:
                placed.append(_Placed(mk, x, None))
                continue
            r, x0, x1, end = spot
            rows[r].append((x0, x1))
            placed.append(_Placed(mk, x, r, x0, x1, end))
        used = max((p.row + 1 for p in placed if p.row is not None), default=0)
        return placed, used

    def _marker(self, p: _Placed, lane_top: float, labels_h: float, band_top: float, band_bottom: float) -> None:
        o = self.out
        mk = p.marker
        x = p.x
        color = self._marker_color(mk)
        cls = f"marker marker-{mk.kind}" + (f" {mk.update}" if mk.update else "") + (" forced" if mk.forced else "")
        o.append(f'<g class="{cls}" data-time-us="{mk.time_us}" data-x="{_f(x)}">')
        o.append(f"<title>{_esc(format_duration(mk.time_us))}: {_esc(mk.detail)}</title>")
        glyph_y = band_top - 6 - 11 * _GLYPH_SLOT.get(mk.kind, 1)
        # The stem runs from the label (if it has one) through the glyph down to the band.
        base = lane_top + labels_h - (p.row or 0) * LABEL_ROW - 4  # row 0 just above the glyphs
        top = base - 8 if p.row is not None else glyph_y
        o.append(f'<line class="stem" x1="{_f(x)}" y1="{_f(top)}" x2="{_f(x)}" y2="{_f(band_top)}" '
                 f'stroke="{color}" stroke-width="0.8" stroke-opacity="0.7"/>')
        if p.row is not None:
            self._label(p, base, color)
        if mk.kind == "update":
            if mk.forced:
                o.append(f'<rect class="forced-highlight" x="{_f(x - 4)}" y="{_f(band_top)}" width="8" '
                         f'height="{_f(band_bottom - band_top)}" fill="{COLORS["forced"]}" fill-opacity="0.35"/>')
            o.append(f'<line x1="{_f(x)}" y1="{_f(glyph_y)}" x2="{_f(x)}" y2="{_f(band_bottom)}" stroke="{color}" '
                     f'stroke-width="{2.4 if mk.forced else 1.8}"/>')
            o.append(f'<path d="M{_f(x)} {_f(glyph_y - 6)} L{_f(x + 6)} {_f(glyph_y)} L{_f(x)} {_f(glyph_y + 6)} '
                     f'L{_f(x - 6)} {_f(glyph_y)} Z" fill="{color}" stroke="#fff" stroke-width="1"/>')
        elif mk.kind == "restart":
            o.append(f'<path d="M{_f(x - 5)} {_f(glyph_y - 4)} L{_f(x + 5)} {_f(glyph_y - 4)} L{_f(x)} {_f(glyph_y + 5)} Z" '
                     f'fill="{color}"/>')
        elif mk.kind in ("handler", "deferred"):
            fill = color if mk.kind == "handler" else "#fff"
            o.append(f'<circle cx="{_f(x)}" cy="{_f(glyph_y)}" r="4.2" fill="{fill}" stroke="{color}" stroke-width="1.6"/>')
        elif mk.kind == "error":
            d = 4.2
            o.append(f'<path d="M{_f(x - d)} {_f(glyph_y - d)} L{_f(x + d)} {_f(glyph_y + d)} M{_f(x + d)} '
                     f'{_f(glyph_y - d)} L{_f(x - d)} {_f(glyph_y + d)}" stroke="{color}" stroke-width="2.4" '
                     f'stroke-linecap="round"/>')
        elif mk.kind == "power":
            o.append(self._bolt(x, glyph_y, color))
        o.append("</g>")

    @staticmethod
    def _bolt(x: float, y: float, color: str) -> str:
        pts = [(1.5, -6.5), (-3.5, 1), (0, 1), (-1.5, 6.5), (3.5, -1), (0, -1)]
        d = "M" + " L".join(f"{_f(x + dx)} {_f(y + dy)}" for dx, dy in pts) + " Z"
        return f'<path d="{d}" fill="{color}"/>'

    def _marker_color(self, mk: Marker) -> str:
        if mk.forced:
            return COLORS["forced"]
        if mk.kind == "update":
            return COLORS[mk.update or "squirrel"]
        return {"restart": COLORS["restart"], "handler": COLORS["handler"], "deferred": COLORS["handler"],
                "error": COLORS["error"], "power": COLORS["power"], "agent-restart": COLORS["restart"]}.get(
                    mk.kind, COLORS["muted"])

    def _label(self, p: _Placed, base: float, color: str) -> None:
        o = self.out
        mk = p.marker
        if mk.forced:
            o.append(f'<rect class="label-pill" x="{_f(p.x0)}" y="{_f(base - 11)}" width="{_f(p.x1 - p.x0)}" '
                     f'height="15" rx="3" fill="{COLORS["forced"]}"/>')
            tx = p.x1 - 5 if p.anchor_end else p.x0 + 5
            fill = "#ffffff"
        else:
            o.append(f'<rect x="{_f(p.x0 - 1)}" y="{_f(base - 10)}" width="{_f(p.x1 - p.x0 + 2)}" height="13" '
                     f'fill="#ffffff" fill-opacity="0.85"/>')
            tx = p.x1 if p.anchor_end else p.x0
            fill = color
        anchor = ' text-anchor="end"' if p.anchor_end else ""
        o.append(f'<text class="label" x="{_f(tx)}" y="{_f(base)}"{anchor} font-size="10.5" font-weight="bold" '
                 f'fill="{fill}">{_esc(mk.label)}</text>')

    def _agent_lane(self, y: float) -> float:
        o = self.out
        restarts = [mk for mk in self.m.agent_markers if mk.kind == "agent-restart"]
        # A few restarts get a label; many (a daily deployment for a month) are told by the glyph.
        placed, rows = self._place_labels(restarts if len(restarts) <= 8 else [], y)
        placed += [_Placed(mk, self.x(mk.time_us), None) for mk in restarts if len(restarts) > 8]
        labels_h = rows * LABEL_ROW
        band_top = y + labels_h + 10
        o.append('<g class="lane lane-agent" data-lane="agent">')
        self._lane_title(band_top + 11, "Agent")
        start = self.m.agent_start_us or 0
        x0 = self.x(start)
        o.append(f'<rect class="agent-band" x="{_f(x0)}" y="{_f(band_top)}" width="{_f(LEFT + self.plot_w - x0)}" '
                 f'height="{AGENT_H}" rx="2" fill="{COLORS["agent"]}" data-start-us="{start}"><title>agent running'
                 f'</title></rect>')
        for p in sorted(placed, key=lambda p: p.marker.time_us):
            mk = p.marker
            glyph_y = band_top - 5
            o.append(f'<g class="marker marker-{mk.kind}" data-time-us="{mk.time_us}" data-x="{_f(p.x)}">'
                     f"<title>{_esc(format_duration(mk.time_us))}: {_esc(mk.detail)}</title>")
            o.append(f'<line class="agent-restart-line" x1="{_f(p.x)}" y1="{_f(band_top)}" x2="{_f(p.x)}" '
                     f'y2="{_f(band_top + AGENT_H)}" stroke="{COLORS["restart"]}" stroke-width="1.6"/>')
            o.append(f'<path d="M{_f(p.x - 4.5)} {_f(glyph_y - 4)} L{_f(p.x + 4.5)} {_f(glyph_y - 4)} '
                     f'L{_f(p.x)} {_f(glyph_y + 4)} Z" fill="{COLORS["restart"]}"/>')
            if p.row is not None:
                base = y + labels_h - p.row * LABEL_ROW - 4
                o.append(f'<line x1="{_f(p.x)}" y1="{_f(base - 8)}" x2="{_f(p.x)}" y2="{_f(glyph_y)}" '
                         f'stroke="{COLORS["restart"]}" stroke-width="0.8" stroke-opacity="0.7"/>')
                self._label(p, base, COLORS["restart"])
            o.append("</g>")
        o.append("</g>")
        return band_top + AGENT_H + LANE_GAP

    # -- axis and legend ---------------------------------------------------------------------

    def _axis(self, top: float, bottom: float) -> list[str]:
        """Gridlines (drawn under the lanes) and the time axis below them."""
        dur = self.m.duration_us
        max_ticks = max(2, int(self.plot_w // 95))
        step = next((s for s in _NICE_STEPS if dur / s <= max_ticks), None)
        if step is None:
            step = _NICE_STEPS[-1] * (int(dur / (_NICE_STEPS[-1] * max_ticks)) + 1)
        out = [f'<g class="axis" data-step-us="{step}">']
        out.append(f'<line x1="{LEFT}" y1="{_f(bottom)}" x2="{LEFT + self.plot_w}" y2="{_f(bottom)}" '
                   f'stroke="{COLORS["axis"]}" stroke-width="1"/>')
        t = 0
        while t <= dur:
            x = self.x(t)
            primary = "0" if t == 0 else format_duration(t)
            secondary = self._clock_label(t, step)
            out.append(f'<line class="grid" x1="{_f(x)}" y1="{_f(top)}" x2="{_f(x)}" y2="{_f(bottom)}" '
                       f'stroke="{COLORS["grid"]}" stroke-width="1"/>')
            out.append(f'<line x1="{_f(x)}" y1="{_f(bottom)}" x2="{_f(x)}" y2="{_f(bottom + 5)}" '
                       f'stroke="{COLORS["axis"]}" stroke-width="1"/>')
            anchor = "start" if t == 0 else "middle"
            if x + text_width(primary, 11) / 2 > self.width - 2:
                anchor = "end"
            out.append(f'<text class="tick" data-time-us="{t}" x="{_f(x)}" y="{_f(bottom + 18)}" text-anchor="{anchor}" '
                       f'font-size="11" fill="{COLORS["text"]}">{_esc(primary)}</text>')
            out.append(f'<text class="tick-clock" x="{_f(x)}" y="{_f(bottom + 31)}" text-anchor="{anchor}" '
                       f'font-size="9.5" fill="{COLORS["muted"]}">{_esc(secondary)}</text>')
            t += step
        out.append("</g>")
        return out

    def _clock_label(self, t_us: int, step: int) -> str:
        when = self.epoch + timedelta(microseconds=t_us)
        if step >= D or (when.hour == 0 and when.minute == 0 and when.second == 0 and step >= H):
            return when.strftime("%b %-d") if os.name != "nt" else when.strftime("%b %d")
        if step >= M:
            return when.strftime("%H:%M")
        if step >= S:
            return when.strftime("%H:%M:%S")
        return when.strftime("%H:%M:%S.") + f"{when.microsecond // 1000:03d}"

    def _legend(self, y: float) -> tuple[list[str], float]:
        items: list[tuple[str, str]] = []  # (svg for a 14x12 swatch at 0,0, label)

        def swatch(fill: str, h: float = 12, yoff: float = 0) -> str:
            return f'<rect x="0" y="{_f(yoff)}" width="16" height="{_f(h)}" rx="2" fill="{fill}"/>'

        used = {iv.value for ln in self.m.devices for iv in ln.states}
        for state in STATES:
            if state in used or state in ("running", "asleep"):
                items.append((swatch(self._fill(state)), STATE_LABELS[state]))
        if self.m.devices:
            items.append((swatch(COLORS["connected"], 6, 3), "connected"))
            items.append((swatch(COLORS["offline"], 6, 3), "not connected"))
        if self.m.outages:
            items.append((swatch("url(#hatch-outage)"), "network outage"))
        kinds = {mk.kind for ln in self.m.devices for mk in ln.markers}
        if "restart" in kinds:
            items.append((f'<path d="M3 1 L13 1 L8 10 Z" fill="{COLORS["restart"]}"/>', "restart (wake reason)"))
        if "handler" in kinds:
            items.append((f'<circle cx="8" cy="6" r="4.2" fill="{COLORS["handler"]}"/>', "shutdown handler called"))
        if "deferred" in kinds:
            items.append((f'<circle cx="8" cy="6" r="4" fill="#fff" stroke="{COLORS["handler"]}" stroke-width="1.6"/>',
                          "update deferred"))
        updates = {(mk.update, mk.forced) for ln in self.m.devices for mk in ln.markers if mk.kind == "update"}
        updates |= {(u.update, u.forced) for u in self.m.updates}
        diamond = 'M8 0 L14 6 L8 12 L2 6 Z'
        for kind, name in (("impos", "impOS update"), ("squirrel", "Squirrel update")):
            if (kind, False) in updates:
                items.append((f'<path d="{diamond}" fill="{COLORS[kind]}"/>', name))
        if any(forced for _, forced in updates):
            items.append((f'<path d="{diamond}" fill="{COLORS["forced"]}"/>', "forced update (handler skipped)"))
        if "error" in kinds:
            items.append(((f'<path d="M4 2 L12 10 M12 2 L4 10" stroke="{COLORS["error"]}" stroke-width="2.4" '
                          f'stroke-linecap="round"/>'), "runtime error"))
        if "power" in kinds:
            items.append((self._bolt(8, 6, COLORS["power"]), "power"))
        if self.m.agent:
            items.append((swatch(COLORS["agent"]), "agent running"))
        if any(ln.io for ln in self.m.devices):
            items.append((swatch(COLORS["io-out"], 6, 0), "pin or bus: the imp wrote or sent"))
            items.append((swatch(COLORS["io-in"], 6, 6), "pin or bus: driven or sent from outside"))

        out = ['<g class="legend">']
        x, row_y = float(LEFT), y
        for art, label in items:
            w = 16 + 6 + text_width(label, 11) + 18
            if x + w > self.width - RIGHT and x > LEFT:
                x, row_y = LEFT, row_y + 20
            out.append(f'<g class="legend-item" data-label="{_esc(label)}" transform="translate({_f(x)} {_f(row_y)})">'
                       f'{art}<text x="22" y="10.5" font-size="11" fill="{COLORS["text"]}">{_esc(label)}</text></g>')
            x += w
        out.append("</g>")
        return out, row_y + 14 if items else y


# --- HTML ---------------------------------------------------------------------------------------


def _io_order(name: str) -> tuple:
    """Pins first, then buses, each in the module's natural order (pin2 before pin10)."""
    kind = 0 if name.startswith("pin") else 1
    return (kind, [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)])


def _pct(part: int, whole: int) -> str:
    if not whole:
        return "–"
    pct = 100 * part / whole
    if 0 < pct < 0.1:
        return f"{pct:.2g}%"
    return f"{pct:.1f}%"


def _html_page(m: TimelineModel, epoch: datetime, title: str, svg: str, facts: list[str]) -> str:
    rows: list[tuple[str, str]] = [
        ("Virtual time", f"{format_duration(m.duration_us)} from {epoch.strftime('%Y-%m-%d %H:%M:%S UTC')}"),
    ]
    for lane in m.devices:
        totals = m.state_totals(lane)
        boots = sum(lane.boots.values())
        reasons = ", ".join(f"{name.removeprefix('WAKEREASON_')} {n}" for name, n in lane.boots.most_common())
        rows.append((f"{lane.name}: boots", f"{boots}" + (f" ({reasons})" if reasons else "")))
        rows.append((f"{lane.name}: time", " · ".join(
            f"{STATE_LABELS[s]} {_pct(totals[s], m.duration_us)}" for s in STATES if totals.get(s))))
        rows.append((f"{lane.name}: connected", f"{_pct(m.connected_us(lane), m.duration_us)} of the time"))
    if m.outages:
        rows.append(("Network outages", f"{len(m.outages)}, {format_duration(sum(e - s for s, e in m.outages))} in all"))
    if m.errors:
        rows.append(("Runtime errors", str(m.errors)))
    if m.agent:
        rows.append(("Agent restarts", str(sum(1 for mk in m.agent_markers if mk.kind == "agent-restart"))))
    overview = "\n".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)

    def cell(t: int | None) -> str:
        return "–" if t is None else _esc(format_duration(t))

    update_rows = []
    for u in m.updates:
        status = ("applied" if u.applied_us is not None else "replaced" if u.superseded_us is not None
                  else "pending")
        pending = (u.applied_us if u.applied_us is not None else m.duration_us) - u.released_us
        update_rows.append(
            f'<tr class="{"forced" if u.forced else ""}"><td>{_esc(u.title)}</td><td>{cell(u.released_us)}</td>'
            f"<td>{cell(u.announced_us)}</td><td>{', '.join(cell(t) for t in u.handler_us) or '–'}</td>"
            f"<td>{len(u.deferred_us) or '–'}</td><td>{cell(u.applied_us)}</td>"
            f"<td>{_esc(path_words(u.path)) if u.path else '–'}{' <b>forced</b>' if u.forced else ''}</td>"
            f"<td>{status}, {_esc(format_duration(pending))}</td></tr>")
    updates = ""
    if update_rows:
        updates = ("<h2>Updates</h2><table class=\"updates\"><tr><th>Update</th><th>Released</th><th>Announced</th>"
                   "<th>Handler called</th><th>Deferred</th><th>Applied</th><th>Path</th><th>Pending</th></tr>"
                   + "\n".join(update_rows) + "</table>")
    body = f"""<h1>{_esc(title)}</h1>
<p class="facts">{_esc(" · ".join(facts))}</p>
<div class="figure">
{svg}</div>
<h2>Summary</h2>
<table class="summary">
{overview}
</table>
{updates}
<footer>Times are virtual, counted from the start of the run. Hover over a mark for details.</footer>
"""
    extra = f"""tr.forced td {{ color: {COLORS["forced"]}; }}
footer {{ margin-top: 20px; font-size: 12px; color: {COLORS["muted"]}; }}
"""
    return html_page(title, body, extra)
