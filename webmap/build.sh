#!/usr/bin/env bash
# Vendors the web map's library: installs the version pinned in package-lock.json and copies its
# minified build and licence into api/assets/map/vendor/, which is committed and embedded in the
# binary (so `cargo run` needs no node). Run it only to upgrade: bump the version in
# package.json, `npm install`, then ./build.sh, and commit package*.json with the new files.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund
out=../api/assets/map/vendor
mkdir -p "$out"
dist=node_modules/maplibre-gl/dist
cp "$dist/maplibre-gl.js" "$dist/maplibre-gl.css" "$out/"
# The source maps are not vendored; drop the comments that would ask for them.
sed -i '/^\/\/# sourceMappingURL=/d; /^\/\*# sourceMappingURL=.*\*\/$/d' "$out/maplibre-gl.js" "$out/maplibre-gl.css"
cp "$dist/LICENSE.txt" "$out/maplibre-gl.LICENSE.txt"
version=$(node -p 'require("./node_modules/maplibre-gl/package.json").version')
echo "maplibre-gl $version (npm), copied by webmap/build.sh" > "$out/VERSION"
ls -l "$out"
