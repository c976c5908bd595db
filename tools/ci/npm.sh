#!/usr/bin/env bash
# Installs the npm packages the interoperability tests drive with node, pinned, into a
# project-local directory (bin/node, ignored by git): today MQTT.js for the WebSocket tests.
# Idempotent and quiet when the pinned version is present. Prints the node_modules path.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=bin/node
mqtt_version=5.10.1
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "tools/ci/npm.sh: node and npm are needed (Debian: apt-get install nodejs npm)" >&2
	exit 1
fi
have=$(node -e "try{console.log(require('./$dir/node_modules/mqtt/package.json').version)}catch(e){}" 2>/dev/null || true)
if [ "$have" != "$mqtt_version" ]; then
	mkdir -p "$dir"
	[ -f "$dir/package.json" ] || echo '{"private":true}' >"$dir/package.json"
	npm install --prefix "$dir" --no-audit --no-fund --silent "mqtt@$mqtt_version" >&2
fi
echo "$PWD/$dir/node_modules"
