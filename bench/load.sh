#!/usr/bin/env bash
# Load test of the release server over HTTP: GraphQL `locate` and a `units(bbox)` page, with
# wrk (apt-get install wrk), 64 connections for 60 s each, against `gridmap serve` on a fresh
# SQLite file holding the default demo city. Counts GraphQL errors (answers with "errors") as
# well as HTTP ones, and samples the server's resident memory every 5 s.
#
#   bash bench/load.sh [SECONDS] [CONNECTIONS]         # defaults: 60 64
#   GRIDMAP_BIN=path/to/gridmap bash bench/load.sh     # skip the build
#   WRK_THREADS=1 (default; the server has the other core)
#
# Prints wrk's summaries (requests/s, latency percentiles), the error counts, the RSS samples
# and the load average before and after, which BENCHMARKS.md records.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-60}"
CONNECTIONS="${2:-64}"
THREADS="${WRK_THREADS:-1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/gridmap-target}"

if [ -z "${GRIDMAP_BIN:-}" ]; then
  cargo build --release -q -p api --bin gridmap
  GRIDMAP_BIN="$CARGO_TARGET_DIR/release/gridmap"
fi
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

WORK="$(mktemp -d)"
SERVER_PID=""
SAMPLER_PID=""
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

GRIDMAP_LOG=warn "$GRIDMAP_BIN" serve --addr 127.0.0.1:0 \
  --database-url "sqlite://$WORK/gridmap.db?mode=rwc" >"$WORK/stdout" 2>"$WORK/stderr" &
SERVER_PID=$!
for _ in $(seq 1 600); do
  grep -q '^listening on ' "$WORK/stdout" 2>/dev/null && break
  sleep 0.1
done
BASE="$(sed -n 's/^listening on //p' "$WORK/stdout" | head -n 1)"
started=$(date +%s.%N)
until curl -sf "$BASE/healthz" >/dev/null; do sleep 0.2; done
echo "server $BASE (pid $SERVER_PID) ready after $(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $started}") s (demo loaded)"

# Request bodies: random points and map-sized boxes inside the demo's communities (锦江区).
curl -sf "$BASE/geojson/units?level=COMMUNITY" >"$WORK/communities.geojson"
python3 - "$WORK" <<'EOF'
import json, random, sys
work = sys.argv[1]
random.seed(7)
features = json.load(open(f"{work}/communities.geojson"))["features"]
boxes = []
for f in features:
    xs, ys = [], []
    def walk(c):
        if isinstance(c[0], (int, float)):
            xs.append(c[0]); ys.append(c[1])
        else:
            for x in c: walk(x)
    walk(f["geometry"]["coordinates"])
    boxes.append((min(xs), min(ys), max(xs), max(ys)))
def lua_string(s):
    return "[==[" + s + "]==]"
locate = []
pages = []
for _ in range(2000):
    x0, y0, x1, y1 = random.choice(boxes)
    lon, lat = random.uniform(x0, x1), random.uniform(y0, y1)
    locate.append(json.dumps({
        "query": "query($lon: Float!, $lat: Float!) { locate(lon: $lon, lat: $lat) { code name level householdCount } }",
        "variables": {"lon": round(lon, 6), "lat": round(lat, 6)},
    }))
    w, h = 0.004, 0.003  # about 400 m x 330 m: a phone's map view
    pages.append(json.dumps({
        "query": "query($bbox: [Float!]!) { units(level: GRID, bbox: $bbox, first: 50) { totalCount edges { node { code name householdCount } } } }",
        "variables": {"bbox": [round(lon - w / 2, 6), round(lat - h / 2, 6), round(lon + w / 2, 6), round(lat + h / 2, 6)]},
    }))
for name, bodies in (("locate", locate), ("units", pages)):
    with open(f"{work}/{name}.lua", "w") as out:
        out.write("bodies = {\n" + ",\n".join(lua_string(b) for b in bodies) + "\n}\n")
        out.write(r'''
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) i = math.random(#bodies); errors = 0; empty = 0 end
function request()
  i = i % #bodies + 1
  return wrk.format(nil, "/graphql", nil, bodies[i])
end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then errors = errors + 1 end
  if string.find(body, '[]', 1, true) then empty = empty + 1 end
end
function done(summary, latency, requests)
  local e, m = 0, 0
  for _, t in ipairs(threads) do e = e + t:get("errors"); m = m + t:get("empty") end
  io.write(string.format("GraphQL or HTTP errors: %d; empty answers: %d\n", e, m))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%g: %.3f ms\n", p, latency:percentile(p) / 1000))
  end
end
''')
EOF

rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$SERVER_PID/status"; }
( while sleep 5; do echo "$(date +%T) $(rss)"; done ) >"$WORK/rss" &
SAMPLER_PID=$!

echo "machine: $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "RSS at start: $(rss)"
for name in locate units; do
  echo "== $name: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/$name.lua" "$BASE"
  echo "RSS after $name: $(rss); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "== RSS samples (every 5 s)"
cat "$WORK/rss"
if grep -qi 'error\|panick' "$WORK/stderr"; then
  echo "== the server logged errors:"; grep -i 'error\|panick' "$WORK/stderr" | head -n 20
fi
