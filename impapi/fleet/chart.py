"""The fleet picture, as SVG: the rollout curve (share of the fleet updated over time, stacked by
the path that applied the update) above the backend load per minute, with the release of each
device group, the 50/95/99/100 % milestones, the baseline and the post-release peak marked.

Curves are drawn one point per pixel column: the rollout at the end of the column, the load at
its busiest minute (so no peak is averaged away)."""

from __future__ import annotations

import html
from typing import Any

from ..durations import format_duration
from ..timeline import COLORS, FONT, text_width
from .observe import PATHS

__all__ = ["PATH_COLORS", "PATH_WORDS", "Picture", "render_svg"]

PATH_COLORS = {"polite": "#22c55e", "no-handler": "#f59e0b", "restart": "#64748b", "power-cycle": "#0f172a",
               "force": "#e0007a", "group-move": "#7c3aed", "deadline": "#dc2626"}
PATH_WORDS = {"polite": "polite (server.restart)", "no-handler": "no handler (impolite)",
              "restart": "other restart", "power-cycle": "power cycle", "force": "forced deployment",
              "group-move": "group move", "deadline": "deadline"}
LOAD_COLORS = {"messages": "#2563eb", "http": "#ea580c", "connects": "#94a3b8"}
LOAD_WORDS = {"messages": "device→agent messages", "http": "agent HTTP requests", "connects": "device connections"}

WIDTH, LEFT, RIGHT = 1000, 70, 30
ROLL_H, LOAD_H, AXIS_H = 250, 170, 34
STEPS_MIN = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 4320, 10080)


class Picture:
    """An SVG document that shows itself in Jupyter; ``str()`` is the SVG text."""

    def __init__(self, svg: str) -> None:
        self.svg = svg

    def _repr_svg_(self) -> str:
        return self.svg

    def __str__(self) -> str:
        return self.svg


def _f(v: float) -> str:
    text = f"{v:.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _text(x: float, y: float, text: str, size: int = 11, anchor: str = "start", color: str = COLORS["text"],
          bold: bool = False) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return (f'<text x="{_f(x)}" y="{_f(y)}" font-size="{size}" text-anchor="{anchor}" fill="{color}"{weight}>'
            f"{_esc(text)}</text>")


def facts(result: Any) -> list[str]:
    s = result.summary()
    n = s["devices"]
    out = [f"{n} devices · {format_duration(result.plan.duration_us)} · fleet seed {result.plan.seed}",
           f"updated {s['updated']} ({100 * s['updated'] / n:.1f}%) · forced {s['forced']} · "
           f"never updated {s['never_updated']}" + (f" · not released {s['not_released']}" if s["not_released"] else "")
           + (f" · crash loops {s['crash_loops']}" if s["crash_loops"] else "")]
    times = " · ".join(f"{k} in {v}" for k, v in s["time_to"].items() if v is not None)
    if times:
        out.append(f"time from release: {times}")
    return out


class _Chart:
    def __init__(self, result: Any) -> None:
        self.r = result
        self.plot_w = WIDTH - LEFT - RIGHT
        self.duration = result.plan.duration_us
        self.o: list[str] = []

    def x(self, t_us: int) -> float:
        return LEFT + self.plot_w * min(max(t_us, 0), self.duration) / max(1, self.duration)

    def columns(self) -> list[tuple[int, int]]:
        """For each pixel column, the minutes [lo, hi) it covers."""
        n = self.r.bins
        cols = int(self.plot_w)
        return [(i * n // cols, max(i * n // cols + 1, (i + 1) * n // cols)) for i in range(min(cols, n))] \
            if n > cols else [(i, i + 1) for i in range(n)]

    def svg(self) -> str:
        title = f"impsim fleet · {self.r.device_file.replace(chr(92), '/').rsplit('/', 1)[-1]}"
        lines = facts(self.r)
        o = self.o
        y = 30
        o.append(_text(LEFT, y, title, 17, bold=True))
        for line in lines:
            y += 18
            o.append(_text(LEFT, y, line, 12, color=COLORS["muted"]))
        y += 30
        y = self.rollout(y)
        y = self.load(y + 26)
        height = y + 10
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{_f(height)}" '
                f'viewBox="0 0 {WIDTH} {_f(height)}" font-family="{FONT}">'
                f'<rect width="100%" height="100%" fill="{COLORS["background"]}"/>' + "".join(o) + "</svg>")

    def axis(self, top: float, bottom: float) -> None:
        o = self.o
        minutes = self.duration / 60_000_000
        step = next((s for s in STEPS_MIN if minutes / s <= self.plot_w / 80), STEPS_MIN[-1])
        o.append(f'<line x1="{LEFT}" y1="{_f(bottom)}" x2="{LEFT + self.plot_w}" y2="{_f(bottom)}" '
                 f'stroke="{COLORS["axis"]}"/>')
        t = 0
        while t <= self.duration:
            x = self.x(t)
            o.append(f'<line x1="{_f(x)}" y1="{_f(top)}" x2="{_f(x)}" y2="{_f(bottom)}" stroke="{COLORS["grid"]}"/>')
            label = "0" if t == 0 else format_duration(t)
            anchor = "end" if x + text_width(label, 11) / 2 > WIDTH - 2 else "middle"
            o.append(_text(x, bottom + 16, label, 11, anchor))
            t += step * 60_000_000

    def rollout(self, top: float) -> float:
        r, o = self.r, self.o
        bottom = top + ROLL_H
        n_dev = len(r.devices)
        o.append(_text(LEFT, top - 10, "Rollout: share of the fleet running the release, by how it was applied",
                       13, bold=True))
        self.axis(top, bottom)
        for pct in (0, 25, 50, 75, 100):
            y = bottom - ROLL_H * pct / 100
            o.append(f'<line x1="{LEFT}" y1="{_f(y)}" x2="{LEFT + self.plot_w}" y2="{_f(y)}" '
                     f'stroke="{COLORS["grid"]}"/>')
            o.append(_text(LEFT - 6, y + 4, f"{pct}%", 11, "end", COLORS["muted"]))
        curves = r.rollout()
        cols = self.columns()
        below = [0.0] * len(cols)
        for path in PATHS:
            if path not in curves:
                continue
            series = curves[path]
            xs, tops = [], []
            for i, (_, hi) in enumerate(cols):
                xs.append(LEFT + self.plot_w * hi / r.bins)
                tops.append(below[i] + series[hi - 1])
            pts = [f"{_f(LEFT)},{_f(bottom - ROLL_H * below[0] / n_dev)}"]
            pts += [f"{_f(x)},{_f(bottom - ROLL_H * v / n_dev)}" for x, v in zip(xs, tops)]
            pts += [f"{_f(x)},{_f(bottom - ROLL_H * v / n_dev)}" for x, v in reversed(list(zip(xs, below)))]
            o.append(f'<polygon class="path-{path}" points="{" ".join(pts)}" fill="{PATH_COLORS[path]}" '
                     f'fill-opacity="0.85"><title>{_esc(PATH_WORDS[path])}: {series[-1]} devices</title></polygon>')
            below = tops
        # releases, per group
        seen: dict[int, list[str]] = {}
        for group, count in r.plan.config.group_sizes(r.plan.devices):
            if count and r.plan.first_release_us is not None:
                at = r.plan.first_release_us + group.delay_us
                if at <= self.duration:
                    seen.setdefault(at, []).append(group.name)
        for at, names in sorted(seen.items()):
            x = self.x(at)
            o.append(f'<line x1="{_f(x)}" y1="{_f(top)}" x2="{_f(x)}" y2="{_f(bottom)}" stroke="{COLORS["impos"]}" '
                     f'stroke-dasharray="5 4" stroke-width="1.4"/>')
            label = "release → " + ", ".join(names)
            anchor = "end" if x + text_width(label, 11) + 4 > WIDTH - RIGHT else "start"
            o.append(_text(x + (4 if anchor == "start" else -4), top + 13, label, 11, anchor, COLORS["impos"]))
        start = r.plan.first_release_us
        for k, v in r.milestones().items():
            if v is None or start is None:
                continue
            # the times are in the facts above: labels here would pile up where the curve is steep
            x, pct = self.x(start + v), int(k.rstrip("%"))
            y = bottom - ROLL_H * pct / 100
            o.append(f'<circle class="milestone" cx="{_f(x)}" cy="{_f(y)}" r="3.5" fill="{COLORS["text"]}">'
                     f"<title>{_esc(k)} of the fleet {_esc(format_duration(v))} after the release</title></circle>")
        y = bottom + AXIS_H
        x = LEFT
        if r.plan.first_release_us is not None:
            o.append(f'<circle cx="{_f(x + 6)}" cy="{_f(y - 4)}" r="3.5" fill="{COLORS["text"]}"/>')
            o.append(_text(x + 17, y, "50/95/99/100 %", 11))
            x += 17 + text_width("50/95/99/100 %", 11) + 18
        for path in PATHS:
            if path in curves:
                label = f"{PATH_WORDS[path]} ({curves[path][-1]})"
                o.append(f'<rect x="{_f(x)}" y="{_f(y - 10)}" width="12" height="12" fill="{PATH_COLORS[path]}"/>')
                o.append(_text(x + 17, y, label, 11))
                x += 17 + text_width(label, 11) + 18
        return y + 8

    def load(self, top: float) -> float:
        r, o = self.r, self.o
        top += 18
        bottom = top + LOAD_H
        o.append(_text(LEFT, top - 10, "Backend load per minute", 13, bold=True))
        cols = self.columns()
        peaks = {name: [max(series[lo:hi]) for lo, hi in cols] for name, series in r.load.items()}
        top_value = max([1] + [max(v) for v in peaks.values() if v])
        scale = _nice_ceiling(top_value)
        self.axis(top, bottom)
        for frac in (0, 0.5, 1):
            y = bottom - LOAD_H * frac
            o.append(f'<line x1="{LEFT}" y1="{_f(y)}" x2="{LEFT + self.plot_w}" y2="{_f(y)}" '
                     f'stroke="{COLORS["grid"]}"/>')
            o.append(_text(LEFT - 6, y + 4, f"{scale * frac:g}", 11, "end", COLORS["muted"]))
        herd = r.herd() or {}
        for name in ("connects", "http", "messages"):
            pts = [f"{_f(LEFT + self.plot_w * (lo + hi) / 2 / r.bins)},{_f(bottom - LOAD_H * v / scale)}"
                   for (lo, hi), v in zip(cols, peaks[name])]
            if not any(peaks[name]):
                continue
            o.append(f'<polyline class="load-{name}" points="{" ".join(pts)}" fill="none" '
                     f'stroke="{LOAD_COLORS[name]}" stroke-width="{1 if name == "connects" else 1.5}"/>')
            h = herd.get(name)
            if h and name != "connects":
                y = bottom - LOAD_H * h["baseline_per_minute"] / scale
                o.append(f'<line x1="{LEFT}" y1="{_f(y)}" x2="{LEFT + self.plot_w}" y2="{_f(y)}" '
                         f'stroke="{LOAD_COLORS[name]}" stroke-dasharray="3 3" stroke-opacity="0.7"/>')
                if h["herd"]:
                    x = self.x(h["peak_at_us"])
                    py = bottom - LOAD_H * h["peak_per_minute"] / scale
                    label = (f"thundering herd: {h['peak_per_minute']}/min at {h['peak_at']}"
                             + (f" ({h['ratio']:g}× the busiest minute before)" if h["ratio"] else ""))
                    anchor = "end" if x + text_width(label, 11) + 8 > WIDTH - RIGHT else "start"
                    o.append(f'<circle cx="{_f(x)}" cy="{_f(py)}" r="4" fill="none" stroke="{COLORS["error"]}" '
                             f'stroke-width="1.6"/>')
                    o.append(_text(x + (8 if anchor == "start" else -8), max(top + 10, py + 4), label, 11, anchor,
                                   COLORS["error"], bold=True))
        y = bottom + AXIS_H
        x = LEFT
        for name in ("messages", "http", "connects"):
            total = sum(r.load[name])
            label = f"{LOAD_WORDS[name]} ({total})"
            o.append(f'<line x1="{_f(x)}" y1="{_f(y - 4)}" x2="{_f(x + 14)}" y2="{_f(y - 4)}" '
                     f'stroke="{LOAD_COLORS[name]}" stroke-width="2"/>')
            o.append(_text(x + 19, y, label, 11))
            x += 19 + text_width(label, 11) + 18
        o.append(_text(x, y, "dashed: the baseline before the release", 11, color=COLORS["muted"]))
        return y + 8


def _nice_ceiling(v: float) -> float:
    step = 1.0
    while True:
        for m in (1, 2, 5):
            if m * step >= v:
                return m * step
        step *= 10


def render_svg(result: Any) -> str:
    return _Chart(result).svg()
