#!/usr/bin/env bash
# Installs the Debian packages the tests need, once per machine. Idempotent and quiet when
# everything is present; as root it uses apt-get directly, otherwise sudo when available.
set -euo pipefail

need=()
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)

[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing test dependencies: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
