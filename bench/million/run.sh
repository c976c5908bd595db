#!/usr/bin/env bash
# One million MQTT connections against one broker on one Linux server, load generator on the
# same host over loopback (127.0.0.0/8 is local as a whole on Linux: no address needs adding).
#
#   sudo bench/million/run.sh [CONNECTIONS] [SOURCE_ADDRESSES]     (defaults 1000000 and 20)
#
# Needs root (sysctl, ulimit), about 4 GiB of free memory for the broker, the tool and the
# kernel's socket state, and bin/emqx + bin/emqx_bench (make build bench-load builds them,
# or: go build -o bin/emqx_bench ./bench/emqx_bench). It refuses to run where the
# open-file limit cannot be raised (such as the 20,000-file CI machines).
set -euo pipefail
cd "$(dirname "$0")/../.."

CONNS=${1:-1000000}
SOURCES=${2:-20}
PORT=${PORT:-1883}
RATE=${RATE:-20000}          # new connections per second
HOLD=${HOLD:-60s}            # how long the connections are held idle
OUT=${OUT:-bench/results/million-$(date +%Y%m%d-%H%M%S).json}
FILES=$((CONNS + 100000))    # per process: the broker holds CONNS sockets, so does the tool

# 1. Kernel limits. fs.nr_open caps what ulimit -n may be raised to; file-max is system-wide
#    (broker + tool = 2 x CONNS). Each source address brings its own ephemeral ports: with
#    1024-65535 that is ~64 k connections per (source address, broker port), so 1 M needs 16+.
sysctl -q -w fs.nr_open=$((FILES * 2)) fs.file-max=$((FILES * 4))
sysctl -q -w net.ipv4.ip_local_port_range="1024 65535"
sysctl -q -w net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535
# Idle MQTT connections need little buffer: small defaults keep kernel memory near 8 KiB a socket.
sysctl -q -w net.ipv4.tcp_rmem="4096 4096 16777216" net.ipv4.tcp_wmem="4096 4096 16777216"
# Connection tracking (if the module is loaded) would otherwise refuse new flows past its table.
if [ -e /proc/sys/net/netfilter/nf_conntrack_max ]; then
  sysctl -q -w net.netfilter.nf_conntrack_max=$((CONNS * 2))
fi

# 2. Per-process open files for this shell and its children (the broker and the tool).
ulimit -n "$FILES" || { echo "cannot raise ulimit -n to $FILES (fs.nr_open, or a container limit)"; exit 1; }
[ "$(ulimit -n)" -ge "$FILES" ] || { echo "ulimit -n is $(ulimit -n), need $FILES"; exit 1; }

# 3. The broker, fresh, with its connection guards opened up for the test.
DATA=$(mktemp -d)
trap 'kill "$BROKER" 2>/dev/null || true; wait "$BROKER" 2>/dev/null || true; rm -rf "$DATA"' EXIT
EMQX_LISTENER__TCP__EXTERNAL=127.0.0.1:$PORT EMQX_LISTENER__WS__EXTERNAL=127.0.0.1:0 \
EMQX_LISTENER__TCP__EXTERNAL__MAX_CONNECTIONS=$((CONNS + 1000)) \
EMQX_LISTENER__TCP__EXTERNAL__MAX_CONN_RATE=$((RATE * 2)) \
EMQX_NODE__DATA_DIR="$DATA/data" EMQX_LOG__DIR="$DATA/log" \
  bin/emqx foreground >"$DATA/broker.out" 2>&1 &
BROKER=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.2; done

# 4. The connections: one subscription each, source addresses 127.0.0.2 .. 127.0.0.(SOURCES+1)
#    round robin, RSS per connection from /proc/<broker>/status before and after.
mkdir -p "$(dirname "$OUT")"
bin/emqx_bench conn -broker 127.0.0.1:$PORT -clients "$CONNS" -conn-rate "$RATE" -conn-workers 256 \
  -ifaddr "127.0.0.2-$((SOURCES + 1))" -filter 'bench/conn/%i' -duration "$HOLD" -timeout 30m \
  -broker-pid "$BROKER" -json "$OUT" >/dev/null
echo "result: $OUT"
