"""PySAL spopt's max-p regions on the communities `gridmap bench rebalance --write-data DIR`
sampled, for a side-by-side with GridMap's rebalance on the same communities.

    pip install spopt
    python3 bench/spopt_maxp.py DIR

DIR/sample_units.geojson holds each sampled community's micro-grids (the areas max-p groups;
micro-grids never split a building) with properties `community` and `households`;
DIR/gridmap_sample.json holds GridMap's figures for the same communities. Max-p has a floor
(threshold 300) but no ceiling, so the share of regions within 300-500 is the quality measure
to compare; compactness is Polsby-Popper 4*pi*A/P^2 in a local equirectangular projection,
as GridMap reports it.
"""
import json
import math
import sys
import time
import warnings

import geopandas as gpd
import libpysal
import numpy as np
from shapely.ops import unary_union
from spopt.region import MaxPHeuristic

warnings.filterwarnings("ignore")


def polsby_popper(geometry):
    lat = geometry.centroid.y
    sx, sy = 111_320.0 * math.cos(math.radians(lat)), 110_940.0
    from shapely.affinity import scale

    projected = scale(geometry, xfact=sx, yfact=sy, origin=(0, 0))
    perimeter = projected.length
    return 0.0 if perimeter == 0 else 4 * math.pi * projected.area / perimeter**2


def main(directory):
    units = gpd.read_file(f"{directory}/sample_units.geojson")
    ours = json.load(open(f"{directory}/gridmap_sample.json"))
    regions, within, scores, seconds = 0, 0, [], 0.0
    for code, community in units.groupby("community"):
        community = community.reset_index(drop=True)
        if community["households"].sum() < 300:
            continue
        # Children are cut along shared lines that may meet in T-junctions, so neighbours share
        # a stretch of edge but not always a vertex: fuzzy contiguity finds them.
        w = libpysal.weights.fuzzy_contiguity(community, buffering=True, buffer=1e-7, silence_warnings=True)
        np.random.seed(2)
        start = time.perf_counter()
        model = MaxPHeuristic(
            community, w, ["households"], "households", 300, top_n=2,
            max_iterations_construction=99,
        )
        model.solve()
        seconds += time.perf_counter() - start
        labels = np.asarray(model.labels_)
        for label in set(labels.tolist()):
            members = community[labels == label]
            households = int(members["households"].sum())
            regions += 1
            within += 300 <= households <= 500
            scores.append(polsby_popper(unary_union(list(members.geometry))))
    print(f"communities: {units['community'].nunique()}, micro-grids: {len(units)}")
    print(f"spopt max-p   {seconds:8.2f} s  regions {regions:5d}  within 300-500 {within / max(regions, 1):6.1%}"
          f"  mean Polsby-Popper {np.mean(scores):.3f}")
    print(f"GridMap       {ours['seconds']:8.2f} s  grids   {ours['grids']:5d}  within 300-500 {ours['within'] / max(ours['grids'], 1):6.1%}"
          f"  mean Polsby-Popper {ours['meanPolsbyPopper']:.3f}")
    print(f"GridMap is {seconds / max(ours['seconds'], 1e-9):.0f}x faster")


if __name__ == "__main__":
    main(sys.argv[1])
