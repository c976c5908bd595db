#!/usr/bin/env bash
# Fetches the npm files the dashboard embeds, pinned, and copies their built files into
# engine/service/dashboard/web/vendor/ (git-ignored but for its placeholder), which go:embed
# reads: uPlot (the overview's charts) and MQTT.js's browser bundle (the WebSocket tool).
# npm installs into bin/dashboard-npm (ignored by git). Idempotent and quiet when the pinned
# files are in place. `make build`, `make run` and `make test-deps` run it.
set -euo pipefail
cd "$(dirname "$0")/../.."
uplot_version=1.6.32
mqtt_version=5.10.1 # the version tools/ci/npm.sh pins for the WebSocket interop tests
dir=bin/dashboard-npm
out=engine/service/dashboard/web/vendor
stamp="$out/VERSIONS"
want="uplot@$uplot_version mqtt@$mqtt_version"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$out/uPlot.esm.js" ] && [ -f "$out/mqtt.min.js" ]; then
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "tools/dashboard/fetch.sh: npm is needed to fetch the dashboard's files (Debian: apt-get install npm)" >&2
	exit 1
fi
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"private":true}' >"$dir/package.json"
echo "fetching the dashboard's npm files: $want"
npm install --prefix "$dir" --no-audit --no-fund --silent --save-exact "uplot@$uplot_version" "mqtt@$mqtt_version" >&2
nm="$dir/node_modules"
cp "$nm/uplot/dist/uPlot.esm.js" "$nm/uplot/dist/uPlot.min.css" "$nm/uplot/LICENSE" "$out/"
mv "$out/LICENSE" "$out/uPlot.LICENSE"
cp "$nm/mqtt/dist/mqtt.min.js" "$out/"
cp "$nm/mqtt/LICENSE.md" "$out/mqtt.LICENSE.md" 2>/dev/null || true
echo "$want" >"$stamp"
