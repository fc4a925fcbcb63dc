"""Distances and clustering of reported locations, in plain Python over the recent window
(tens of thousands of points at most).

Clustering is density-based (DBSCAN with a grid index): an order with at least `min_count - 1`
others of the same category within `radius` metres is a core; cores within `radius` of each
other join one cluster, and orders within `radius` of a core join it too. Unlike plain
single-linkage, sparse noise cannot chain two far-apart orders into one cluster. The grid has
cells at least `radius` wide, so an order's neighbours lie in its own and the 8 surrounding
cells; a cell block holding fewer than `min_count` orders is skipped without measuring."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable
from typing import NamedTuple

EARTH_RADIUS_M = 6_371_008.8
M_PER_DEG = math.pi * EARTH_RADIUS_M / 180  # one degree of a great circle, ~111.2 km
CELL_M_PER_DEG = 110_000.0


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


class Point(NamedTuple):
    key: Hashable  # the order's id
    group: Hashable  # points of different groups (categories) never cluster together
    lat: float
    lng: float


def centre_and_radius(points: Iterable[tuple[float, float]]) -> tuple[float, float, int] | None:
    """Mean position and the distance (m, rounded up) from it to the farthest point."""
    pts = list(points)
    if not pts:
        return None
    lat = sum(p[0] for p in pts) / len(pts)
    lng = sum(p[1] for p in pts) / len(pts)
    radius = max(distance_m(lat, lng, a, b) for a, b in pts)
    return lat, lng, math.ceil(radius)


def dense_clusters(points: list[Point], *, radius: float, min_count: int) -> list[set]:
    """Clusters (sets of point keys) of at least `min_count` points; see the module text.

    Inside a cell block the distance is the equirectangular one (latitude and longitude
    differences scaled at the pair's mean latitude), which at these distances differs from the
    great-circle distance by well under a metre."""
    n = len(points)
    if not n or min_count < 1:
        return []
    lats = [p.lat for p in points]
    lngs = [p.lng for p in points]
    dlat, dlng = cell_degrees(radius, max(abs(v) for v in lats))
    grid: dict[tuple, list[int]] = defaultdict(list)
    for i, p in enumerate(points):
        grid[(p.group, math.floor(p.lat / dlat), math.floor(p.lng / dlng))].append(i)
    count = {cell: len(members) for cell, members in grid.items()}
    get = count.get

    neighbours: dict[int, list[int]] = {}
    r2 = radius * radius
    ky = M_PER_DEG
    cos: dict[int, float] = {}
    for (g, r, c), members in grid.items():
        if len(members) < min_count:
            around = (
                get((g, r - 1, c - 1), 0)
                + get((g, r - 1, c), 0)
                + get((g, r - 1, c + 1), 0)
                + get((g, r, c - 1), 0)
                + get((g, r, c + 1), 0)
                + get((g, r + 1, c - 1), 0)
                + get((g, r + 1, c), 0)
                + get((g, r + 1, c + 1), 0)
            )
            if len(members) + around < min_count:
                continue  # not enough points nearby for any of these to be a core
        block = [(g, r + dr, c + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
        near_cells = [j for b in block for j in grid.get(b, ())]
        for j in near_cells:
            if j not in cos:
                cos[j] = math.cos(math.radians(lats[j]))
        for i in members:
            lat_i, lng_i, cos_i = lats[i], lngs[i], cos[i]
            near = []
            for j in near_cells:
                if j == i:
                    continue
                dy = (lats[j] - lat_i) * ky
                dx = (lngs[j] - lng_i) * ky * (cos_i + cos[j]) * 0.5
                if dx * dx + dy * dy <= r2:
                    near.append(j)
            if len(near) + 1 >= min_count:
                neighbours[i] = near

    # Connect cores (breadth-first); border points join the first core that reaches them.
    label: dict[int, int] = {}
    clusters: list[set] = []
    for start in neighbours:
        if start in label:
            continue
        members = {start}
        label[start] = len(clusters)
        queue = [start]
        while queue:
            i = queue.pop()
            for j in neighbours[i]:
                if j in label:
                    continue
                label[j] = label[start]
                members.add(j)
                if j in neighbours:
                    queue.append(j)
        clusters.append(members)
    return [{points[i].key for i in c} for c in clusters if len(c) >= min_count]


def cell_degrees(radius: float, max_abs_lat: float) -> tuple[float, float]:
    """Grid cell (lat, lng) sizes in degrees, at least `radius` metres wide wherever they lie
    (longitude cells are sized at the highest latitude present)."""
    # 110 km per degree is below the true length everywhere: cells come out a little wider
    # than `radius`, never narrower.
    dlat = radius / CELL_M_PER_DEG
    dlng = radius / (CELL_M_PER_DEG * max(math.cos(math.radians(min(max_abs_lat, 89.0))), 1e-6))
    return dlat, dlng


class Grid:
    """Rows with `lat`, `lng` and `category_id`, bucketed by category and cell."""

    def __init__(self, rows, radius: float) -> None:
        self.radius = radius
        self.cells: dict[tuple, list] = defaultdict(list)
        max_lat = max((abs(r.lat) for r in rows), default=0.0)
        self.dlat, self.dlng = cell_degrees(radius, max_lat + 1.0)
        for r in rows:
            self.cells[self._cell(r.category_id, r.lat, r.lng)].append(r)

    def _cell(self, group, lat: float, lng: float) -> tuple:
        return (group, math.floor(lat / self.dlat), math.floor(lng / self.dlng))

    def around(self, group, lat: float, lng: float, reach: float) -> list:
        """Rows of `group` in the cells that may hold points within `reach` metres."""
        g, row, col = self._cell(group, lat, lng)
        k = math.ceil(reach / self.radius)
        out = []
        for dr in range(-k, k + 1):
            for dc in range(-k, k + 1):
                out.extend(self.cells.get((g, row + dr, col + dc), ()))
        return out


class UnionFind:
    """Disjoint sets over hashable keys."""

    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, x):
        parent = self.parent
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra

    def groups(self) -> list[set]:
        out: dict = defaultdict(set)
        for x in list(self.parent):
            out[self.find(x)].add(x)
        return list(out.values())
