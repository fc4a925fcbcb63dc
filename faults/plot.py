"""The cluster plot of a fault: its orders by location (left) and by report time (right), as
one self-contained SVG drawn on the server. No script, no map tiles needed, so it works
offline; with FAULTS_MAP_TILE_URL set (a `{z}/{x}/{y}` template, e.g. an internal tile
server) the tiles are laid under the points in the same Web Mercator projection."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _

from .geo import distance_m

MAP_W, MAP_H = 420, 320
TIME_W, TIME_H = 420, 320
GAP = 16
TILE = 256


@dataclass(frozen=True)
class PlotPoint:
    number: str
    lat: float | None
    lng: float | None
    reported_at: datetime
    open: bool = True


def _world(lat: float, lng: float, zoom: int) -> tuple[float, float]:
    """Web Mercator pixel coordinates at `zoom`."""
    scale = TILE * 2**zoom
    x = (lng + 180.0) / 360.0 * scale
    s = math.sin(math.radians(max(min(lat, 85.0), -85.0)))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * scale
    return x, y


def _zoom_for(lats, lngs, width, height) -> int:
    for zoom in range(19, 2, -1):
        x0, y0 = _world(max(lats), min(lngs), zoom)
        x1, y1 = _world(min(lats), max(lngs), zoom)
        if x1 - x0 <= width * 0.8 and y1 - y0 <= height * 0.8:
            return zoom
    return 3


def _colour(t: float) -> str:
    """Older reports light blue, newer ones dark red (t in 0..1)."""
    r = int(80 + 150 * t)
    g = int(150 - 110 * t)
    b = int(220 - 170 * t)
    return f"#{r:02x}{g:02x}{b:02x}"


def cluster_svg(
    *,
    points: list[PlotPoint],
    center: tuple[float, float] | None = None,
    radius_m: float | None = None,
    title: str = "",
    tile_url: str | None = None,
) -> str:
    tile_url = settings.FAULTS_MAP_TILE_URL if tile_url is None else tile_url
    width = MAP_W + GAP + TIME_W
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'viewBox="0 0 {width} {MAP_H + 24}" width="{width}" height="{MAP_H + 24}" '
        f'role="img" aria-label="{escape(title)}" class="fault-plot" '
        f'font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
    ]
    times = [p.reported_at for p in points]
    t0, t1 = (min(times), max(times)) if times else (None, None)
    span = (t1 - t0).total_seconds() if times else 0

    def frac(t: datetime) -> float:
        return 0.0 if not span else (t - t0).total_seconds() / span

    # --- map panel
    out.append(
        f'<g class="fault-map"><rect x="0" y="0" width="{MAP_W}" height="{MAP_H}" '
        f'fill="#f4f6f8" stroke="#d0d7de"/>'
    )
    located = [p for p in points if p.lat is not None and p.lng is not None]
    if located or center:
        lats = [p.lat for p in located] + ([center[0]] if center else [])
        lngs = [p.lng for p in located] + ([center[1]] if center else [])
        if center and radius_m:
            # Keep the whole circle in view.
            dlat = radius_m / 111_320.0
            dlng = radius_m / (111_320.0 * math.cos(math.radians(center[0])))
            lats += [center[0] - dlat, center[0] + dlat]
            lngs += [center[1] - dlng, center[1] + dlng]
        zoom = _zoom_for(lats, lngs, MAP_W, MAP_H)
        cx, cy = _world((max(lats) + min(lats)) / 2, (max(lngs) + min(lngs)) / 2, zoom)
        ox, oy = cx - MAP_W / 2, cy - MAP_H / 2

        def xy(lat, lng):
            x, y = _world(lat, lng, zoom)
            return x - ox, y - oy

        out.append(f'<clipPath id="fault-map-clip"><rect width="{MAP_W}" height="{MAP_H}"/>')
        out.append('</clipPath><g clip-path="url(#fault-map-clip)">')
        if tile_url:
            n = 2**zoom
            for tx in range(math.floor(ox / TILE), math.floor((ox + MAP_W) / TILE) + 1):
                for ty in range(math.floor(oy / TILE), math.floor((oy + MAP_H) / TILE) + 1):
                    if 0 <= ty < n:
                        href = tile_url.format(z=zoom, x=tx % n, y=ty)
                        out.append(
                            f'<image href="{escape(href)}" x="{tx * TILE - ox:.1f}" '
                            f'y="{ty * TILE - oy:.1f}" width="{TILE}" height="{TILE}"/>'
                        )
        else:
            for i in range(1, 8):
                x = MAP_W * i / 8
                y = MAP_H * i / 8
                grid = 'stroke="#e4e8ec"'
                out.append(f'<line x1="{x:.0f}" y1="0" x2="{x:.0f}" y2="{MAP_H}" {grid}/>')
                out.append(f'<line x1="0" y1="{y:.0f}" x2="{MAP_W}" y2="{y:.0f}" {grid}/>')
        if center and radius_m:
            x, y = xy(*center)
            edge_x, _edge_y = xy(
                center[0], center[1] + radius_m / (111_320.0 * math.cos(math.radians(center[0])))
            )
            r = max(edge_x - x, 2)
            out.append(
                f'<circle class="fault-area" cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" '
                f'fill="#d1242f" fill-opacity="0.08" stroke="#d1242f" stroke-dasharray="4 3"/>'
            )
        for p in located:
            x, y = xy(p.lat, p.lng)
            fill = _colour(frac(p.reported_at)) if p.open else "#ffffff"
            out.append(
                f'<circle class="fault-order" data-number="{escape(p.number)}" cx="{x:.1f}" '
                f'cy="{y:.1f}" r="5" fill="{fill}" stroke="#24292f" stroke-width="0.8">'
                f"<title>{escape(p.number)} {timezone.localtime(p.reported_at):%H:%M}</title>"
                "</circle>"
            )
        out.append("</g>")
        # Scale bar: a round distance near a quarter of the panel width.
        lat_mid = (max(lats) + min(lats)) / 2
        m_per_px = distance_m(lat_mid, 0, lat_mid, 1) / (
            _world(lat_mid, 1, zoom)[0] - _world(lat_mid, 0, zoom)[0]
        )
        target = m_per_px * MAP_W / 4
        nice = min(
            (
                s
                for s in (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)
                if s >= target
            ),
            default=50000,
        )
        px = nice / m_per_px
        label = f"{nice // 1000} km" if nice >= 1000 else f"{nice} m"
        out.append(
            f'<g class="fault-scale"><line x1="10" y1="{MAP_H - 12}" x2="{10 + px:.1f}" '
            f'y2="{MAP_H - 12}" stroke="#24292f" stroke-width="2"/>'
            f'<text x="10" y="{MAP_H - 17}">{label}</text></g>'
        )
    else:
        none = _("工单未带位置")
        out.append(
            f'<text x="{MAP_W / 2}" y="{MAP_H / 2}" text-anchor="middle" fill="#57606a">'
            f"{escape(none)}</text>"
        )
    unlocated = len(points) - len(located)
    caption = _("位置（%(n)d 张工单）") % {"n": len(located)}
    if unlocated:
        caption += " · " + _("%(n)d 张无位置") % {"n": unlocated}
    out.append(f'<text x="0" y="{MAP_H + 16}">{escape(caption)}</text></g>')

    # --- time panel: one row per order, oldest on top
    gx = MAP_W + GAP
    out.append(
        f'<g class="fault-time" transform="translate({gx},0)">'
        f'<rect x="0" y="0" width="{TIME_W}" height="{TIME_H}" fill="#f4f6f8" stroke="#d0d7de"/>'
    )
    if points:
        ordered = sorted(points, key=lambda p: p.reported_at)
        left, right, top = 12, TIME_W - 12, 12
        step = (TIME_H - 40) / max(len(ordered) - 1, 1)
        step = min(step, 18)
        for i, p in enumerate(ordered):
            x = left + (right - left) * frac(p.reported_at)
            y = top + i * step
            fill = _colour(frac(p.reported_at)) if p.open else "#ffffff"
            out.append(
                f'<circle class="fault-when" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{fill}" '
                f'stroke="#24292f" stroke-width="0.8"><title>{escape(p.number)}</title></circle>'
            )
        a = timezone.localtime(t0).strftime("%H:%M")
        b = timezone.localtime(t1).strftime("%H:%M")
        out.append(f'<text x="{left}" y="{TIME_H - 8}">{a}</text>')
        out.append(f'<text x="{right}" y="{TIME_H - 8}" text-anchor="end">{b}</text>')
    when = _("报单时间（从早到晚）")
    out.append(f'<text x="0" y="{MAP_H + 16}">{escape(when)}</text></g>')
    out.append("</svg>")
    return "".join(out)
