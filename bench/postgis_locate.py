"""Side-by-side point-in-polygon with PostGIS on the data `gridmap bench --write-data DIR`
writes (the demo city's micro-grids and its households).

    apt-get install postgresql-15-postgis-3
    python3 bench/postgis_locate.py DIR [--url postgres://postgres@127.0.0.1:5432/test]

Loads both layers into a scratch database with GiST indexes, then times the spatial join
`ST_Intersects(grid, point)` (boundary points included, as shapely's "intersects") for every
point, and counts the points that got exactly the grid GridMap gave them.
"""

import argparse
import json
import subprocess
import tempfile
import time


def psql(url, sql, capture=False):
    result = subprocess.run(
        ["psql", url, "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=capture,
        text=True,
    )
    return result.stdout.strip() if capture else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    base = args.url.rsplit("/", 1)[0]
    scratch = f"{base}/gridmap_postgis_bench"
    psql(args.url, "DROP DATABASE IF EXISTS gridmap_postgis_bench")
    psql(args.url, "CREATE DATABASE gridmap_postgis_bench")
    try:
        psql(scratch, "CREATE EXTENSION postgis")
        with open(f"{args.directory}/micro_grids.geojson") as f:
            features = json.load(f)["features"]
        with tempfile.NamedTemporaryFile("w", suffix=".tsv") as grids:
            for feature in features:
                grids.write(f"{feature['properties']['code']}\t{json.dumps(feature['geometry'])}\n")
            grids.flush()
            psql(scratch, "CREATE TABLE staging (code text, gj text)")
            psql(scratch, f"\\copy staging FROM '{grids.name}'")
        psql(scratch, "CREATE TABLE grids AS SELECT code, ST_SetSRID(ST_GeomFromGeoJSON(gj), 4326) AS geom FROM staging")
        psql(scratch, "CREATE TABLE points_in (lon float8, lat float8)")
        psql(scratch, f"\\copy points_in FROM '{args.directory}/households.csv' CSV HEADER")
        psql(scratch, "CREATE TABLE points AS SELECT row_number() OVER () - 1 AS i, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS geom FROM points_in")
        psql(scratch, "CREATE INDEX ON grids USING gist (geom); CREATE INDEX ON points USING gist (geom); ANALYZE")
        with open(f"{args.directory}/gridmap.csv") as f:
            ours = [line.strip() for line in f][1:]
        with tempfile.NamedTemporaryFile("w", suffix=".csv") as answers:
            answers.write("\n".join(f"{i},{code}" for i, code in enumerate(ours)) + "\n")
            answers.flush()
            psql(scratch, "CREATE TABLE ours (i bigint, code text)")
            psql(scratch, f"\\copy ours FROM '{answers.name}' CSV")
        n = len(ours)
        join = "SELECT p.i, g.code FROM points p JOIN grids g ON ST_Intersects(g.geom, p.geom)"
        samples = []
        for _ in range(3):
            started = time.perf_counter()
            psql(scratch, f"CREATE TEMP TABLE hits AS {join}; DROP TABLE hits")
            samples.append(time.perf_counter() - started)
        best = sorted(samples)[1]
        print(f"PostGIS join ({len(features)} polygons, {n} points): {best:.2f} s, {n / best / 1e3:.0f}k points/s (median of 3)")
        agree = psql(scratch, f"SELECT count(DISTINCT o.i) FROM ours o JOIN ({join}) h ON h.i = o.i AND h.code = o.code", capture=True)
        print(f"points where PostGIS finds GridMap's grid: {agree} of {n}")
    finally:
        psql(args.url, "DROP DATABASE IF EXISTS gridmap_postgis_bench")


if __name__ == "__main__":
    main()
