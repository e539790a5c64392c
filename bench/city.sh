#!/usr/bin/env bash
# Issue 3's city-scale figures on one backend: the full demo city (209,790 units, 9,000,000
# households) written to files, its six levels imported with `gridmap import`, the households
# with `gridmap import-households` (timed, with peak RSS), then three start-ups from the
# command to the first `GET /healthz` 200, with the server's RSS once loaded.
#
#   bash bench/city.sh "sqlite:///tmp/city.db?mode=rwc"                       # a fresh file
#   bash bench/city.sh "postgres://postgres@127.0.0.1:5432/gridmap_city"      # a fresh database
#   GRIDMAP_BIN=path/to/gridmap bash bench/city.sh URL                        # skip the build
#   CITY_FILES=dir (default /tmp/gridmap-city; written once, 0.8 GB)
#
# Give it an empty database: a level imported twice is refused (its codes are taken).
set -euo pipefail
cd "$(dirname "$0")/.."

URL="${1:?usage: bash bench/city.sh DATABASE_URL}"
FILES="${CITY_FILES:-/tmp/gridmap-city}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/gridmap-target}"
export GRIDMAP_LOG="${GRIDMAP_LOG:-warn}"
if [ -z "${GRIDMAP_BIN:-}" ]; then
  cargo build --release -q -p api --bin gridmap
  GRIDMAP_BIN="$CARGO_TARGET_DIR/release/gridmap"
fi

if [ ! -f "$FILES/households.csv" ]; then
  mkdir -p "$FILES"
  "$GRIDMAP_BIN" demo --size city --out "$FILES"
fi
for level in city district street community grid micro-grid; do
  "$GRIDMAP_BIN" import --level "$level" --database-url "$URL" "$FILES/${level//-/_}.geojson" >/dev/null
done
/usr/bin/time -f "import-households: %e s, peak RSS %M KB" \
  "$GRIDMAP_BIN" import-households --database-url "$URL" "$FILES/households.csv" >/dev/null

LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
for run in 1 2 3; do
  started=$(date +%s.%N)
  "$GRIDMAP_BIN" serve --addr 127.0.0.1:0 --database-url "$URL" >"$LOG" 2>&1 &
  server=$!
  # The server announces its address once bound; /healthz answers 200 once the index is loaded.
  until base=$(grep -o 'http://127.0.0.1:[0-9]*' "$LOG" | head -1) && [ -n "$base" ] \
      && curl -sf "$base/healthz" >/dev/null; do
    kill -0 "$server" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
    sleep 0.05
  done
  echo "start-up $run to /healthz 200: $(echo "$(date +%s.%N) - $started" | bc) s, RSS $(ps -o rss= -p "$server") KB"
  kill "$server"
  wait "$server" 2>/dev/null || true
done
