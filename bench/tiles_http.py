"""Times GET /tiles (uncached, then cached) at zooms 12, 14 and 16 and the full GeoJSON export
against a running `gridmap serve`, and the server's peak memory during the export.

    python3 bench/tiles_http.py HOST PORT SERVER_PID [SYSTEM] [minLon,minLat,maxLon,maxLat]

Only loopback servers of your own; 200 tiles per zoom, each requested twice. Linux only (reads
and resets the server's peak RSS through /proc/PID/status and /proc/PID/clear_refs).
"""
import http.client, math, random, statistics, sys, time, json

host, port = sys.argv[1], int(sys.argv[2])
pid = int(sys.argv[3])
system = sys.argv[4] if len(sys.argv) > 4 else "1"  # the grid system; argv[5]: minLon,minLat,maxLon,maxLat

def tile_of(lon, lat, z):
    n = 2 ** z
    r = math.radians(lat)
    return int((lon + 180) / 360 * n), int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)

conn = http.client.HTTPConnection(host, port)
def get(path):
    t = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    return time.perf_counter() - t, r.status, len(body)

conn.request("GET", f"/tiles/{system}.json")
tj = json.loads(conn.getresponse().read())
print("TileJSON bounds", tj["bounds"])
random.seed(7)
# The five central districts, where the large demo has grids and households.
lon0, lat0, lon1, lat1 = (float(v) for v in sys.argv[5].split(",")) if len(sys.argv) > 5 else (103.98, 30.58, 104.18, 30.76)
for z in (12, 14, 16):
    (x0, y0), (x1, y1) = tile_of(lon0, lat1, z), tile_of(lon1, lat0, z)
    tiles = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    random.shuffle(tiles)
    tiles = tiles[:200]
    first = get(f"/tiles/{system}/{z}/{tiles[0][0]}/{tiles[0][1]}.mvt")
    cold = [get(f"/tiles/{system}/{z}/{x}/{y}.mvt") for x, y in tiles[1:]]
    warm = [get(f"/tiles/{system}/{z}/{x}/{y}.mvt") for x, y in tiles[1:]]
    ms = lambda xs: sorted(t * 1e3 for t, _, _ in xs)
    c, w = ms(cold), ms(warm)
    assert all(s == 200 for _, s, _ in cold + warm)
    print(f"z{z}: first tile of the zoom {first[0]*1e3:.1f} ms; {len(c)} tiles uncached median {statistics.median(c):.2f} ms "
          f"p95 {c[int(0.95*(len(c)-1))]:.2f} ms; cached median {statistics.median(w):.3f} ms p95 {w[int(0.95*(len(w)-1))]:.3f} ms; "
          f"mean size {statistics.mean(b for _, _, b in cold)/1024:.1f} KiB")

def hwm():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(("VmHWM", "VmRSS")):
            print("  ", line.strip())
print("server memory before the export:")
hwm()
open(f"/proc/{pid}/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
print("after resetting the peak:")
hwm()
t = time.perf_counter()
conn.request("GET", "/geojson/units")
r = conn.getresponse()
n = 0
while True:
    chunk = r.read(1 << 20)
    if not chunk:
        break
    n += len(chunk)
print(f"GET /geojson/units (every unit, every level): {time.perf_counter()-t:.2f} s, {n/1e6:.1f} MB, status {r.status}")
print("server memory after the export:")
hwm()
