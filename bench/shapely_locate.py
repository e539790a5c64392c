"""Side-by-side point-in-polygon with shapely 2 on the data `gridmap bench --write-data DIR`
writes: the demo city's micro-grids and its households, in the same order as GridMap's run.

    pip install 'shapely>=2' numpy
    python3 bench/shapely_locate.py DIR [--threads 2] [--shuffle]

Prints shapely's STRtree bulk query (predicate "intersects", GEOS prepared geometries; the
vectorised form, its fastest) for all households, on 1 and on N threads, and checks its answers
against GridMap's (gridmap.csv): every GridMap answer must be among shapely's candidates (shapely
returns every polygon whose boundary holds a point; GridMap picks one by its documented rule).
"""

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import shapely


def load(directory):
    with open(f"{directory}/micro_grids.geojson") as f:
        features = json.load(f)["features"]
    codes = np.array([f["properties"]["code"] for f in features])
    polygons = np.array([shapely.geometry.shape(f["geometry"]) for f in features])
    points = np.loadtxt(f"{directory}/households.csv", delimiter=",", skiprows=1)
    with open(f"{directory}/gridmap.csv") as f:
        ours = [line.strip() for line in f][1:]
    return codes, polygons, points, ours


def query(tree, xs, ys):
    return tree.query(shapely.points(xs, ys), predicate="intersects")


def timed(fn, runs=3):
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - started)
    return sorted(samples)[len(samples) // 2], result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--shuffle", action="store_true", help="points in random order")
    args = parser.parse_args()
    codes, polygons, points, ours = load(args.directory)
    if args.shuffle:
        order = np.random.default_rng(7).permutation(len(points))
        points, ours = points[order], [ours[i] for i in order]
    xs, ys = points[:, 0].copy(), points[:, 1].copy()
    n = len(xs)
    started = time.perf_counter()
    tree = shapely.STRtree(polygons)
    shapely.prepare(polygons)
    print(f"{len(polygons)} polygons, {n} points; STRtree + prepare {time.perf_counter() - started:.3f} s")

    one, (point_idx, poly_idx) = timed(lambda: query(tree, xs, ys))
    print(f"shapely 1 thread : {one:8.3f} s  {n / one / 1e6:6.2f} M points/s")

    def parallel():
        chunks = np.array_split(np.arange(n), args.threads)
        with ThreadPoolExecutor(args.threads) as pool:
            return list(pool.map(lambda c: query(tree, xs[c], ys[c]), chunks))

    many, _ = timed(parallel)
    print(f"shapely {args.threads} threads: {many:8.3f} s  {n / many / 1e6:6.2f} M points/s")

    candidates = {}
    for p, g in zip(point_idx.tolist(), poly_idx.tolist()):
        candidates.setdefault(p, set()).add(codes[g])
    disagreements = sum(
        1 for i, code in enumerate(ours) if (code or None) not in candidates.get(i, {None})
    )
    print(f"answers that disagree with GridMap: {disagreements} of {n}")


if __name__ == "__main__":
    main()
