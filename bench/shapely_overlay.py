"""Side-by-side of the merge's overlay step (step 1: the atoms) with shapely 2 and geopandas, on
the layers `cargo run --release -p geodata --example merge_large` writes when
GRIDMAP_LAYERS_DIR=DIR is set (communities.geojson, layer-1.geojson ... layer-4.geojson).

    pip install 'shapely>=2' geopandas
    GRIDMAP_LAYERS_DIR=/tmp/layers cargo run --release -p geodata --example merge_large
    python3 bench/shapely_overlay.py /tmp/layers [--skip-geopandas]

Two ways to get the same faces (every region of a community covered by the same set of source
grids, land of no grid included):

- shapely 2, per community: the community's boundary and every overlapping source ring clipped
  to it, noded by `unary_union` and cut into faces by `polygonize` (the fastest shapely way to
  an arrangement), then each face labelled by an STRtree query of its point on surface;
- geopandas `overlay(how="union")`, chained: communities with layer 1, the result with layer 2,
  and so on, keeping only pieces inside a community.

GridMap's figure to compare with is the "overlay alone (step 1)" line of the example, which
does the same work (one string overlay per community, faces labelled by point in polygon).
Both run single-threaded here; GridMap's runs on all cores (RAYON_NUM_THREADS=1 for one).
"""

import argparse
import json
import time

import shapely
from shapely import STRtree


def load(path):
    with open(path) as f:
        collection = json.load(f)
    geoms = [shapely.geometry.shape(feat["geometry"]) for feat in collection["features"]]
    ids = [feat["properties"]["id"] for feat in collection["features"]]
    return ids, geoms


def shapely_faces(communities, layers):
    """Faces per community by noding and polygonizing; returns the number of faces."""
    sources = [g for _, geoms in layers for g in geoms]
    tree = STRtree(sources)
    faces = 0
    for community in communities:
        candidates = tree.query(community, predicate="intersects")
        rings = [community.boundary]
        for i in candidates:
            rings.append(shapely.intersection(sources[i].boundary, community))
        noded = shapely.unary_union(rings)
        pieces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
        # Keep the faces inside the community (polygonize also fills its holes).
        points = shapely.point_on_surface(pieces)
        inside = shapely.contains(community, points)
        pieces = pieces[inside]
        points = points[inside]
        # Label each face with the source grids holding it.
        if len(pieces):
            shapely.prepare(community)
            local = STRtree([sources[i] for i in candidates]) if len(candidates) else None
            if local is not None:
                local.query(points, predicate="within")
        faces += len(pieces)
    return faces


def geopandas_frames(directory, count):
    import geopandas as gpd

    frame = gpd.read_file(f"{directory}/communities.geojson")[["id", "geometry"]]
    frames = [frame.rename(columns={"id": "community"})]
    for n in range(1, count + 1):
        layer = gpd.read_file(f"{directory}/layer-{n}.geojson")[["id", "geometry"]]
        frames.append(layer.rename(columns={"id": f"layer{n}"}))
    return frames


def geopandas_faces(frames):
    import geopandas as gpd

    frame = frames[0]
    for layer in frames[1:]:
        frame = gpd.overlay(frame, layer, how="union", keep_geom_type=True)
        frame = frame[frame["community"].notna()]
    return len(frame)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--skip-geopandas", action="store_true")
    args = parser.parse_args()

    _, communities = load(f"{args.directory}/communities.geojson")
    layers = [load(f"{args.directory}/layer-{n}.geojson") for n in range(1, args.layers + 1)]
    print(
        f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}): "
        f"{len(communities)} communities, layers of {[len(g) for _, g in layers]} grids"
    )

    start = time.perf_counter()
    faces = shapely_faces(communities, layers)
    print(f"shapely node + polygonize per community: {faces} faces in {time.perf_counter() - start:.2f} s")

    if not args.skip_geopandas:
        import geopandas

        frames = geopandas_frames(args.directory, args.layers)
        start = time.perf_counter()
        faces = geopandas_faces(frames)
        print(
            f"geopandas {geopandas.__version__} overlay(how='union') chained: {faces} pieces "
            f"in {time.perf_counter() - start:.2f} s"
        )


if __name__ == "__main__":
    main()
