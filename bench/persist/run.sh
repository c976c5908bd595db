#!/usr/bin/env bash
# Persistence benchmark, one run (make build and go build -o bin/emqx_bench ./bench/emqx_bench first; Mosquitto from make bench-deps): persistent QoS 1 p2p (8 -> 8, 64 B, 10 s) against our broker under each fsync policy,
# persistence off, and Mosquitto with persistence true, in the same run.
set -u
cd "$(dirname "$0")/../.."
run_ours() { # $1 label, rest env
  label=$1; shift
  work=$(mktemp -d); port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  env "$@" EMQX_LISTENER__TCP__EXTERNAL=127.0.0.1:$port EMQX_LISTENER__TCP__INTERNAL=127.0.0.1:0 EMQX_LISTENER__WS__EXTERNAL=127.0.0.1:0 EMQX_NODE__DATA_DIR=$work/data EMQX_LOG__DIR=$work/log EMQX_LOG__TO=off EMQX_PERSISTENCE__DIR=$work/store ./bin/emqx foreground >/dev/null 2>&1 &
  pid=$!; sleep 1
  echo "== $label"
  ./bin/emqx_bench p2p -broker 127.0.0.1:$port -broker-pid $pid -clients 8 -qos 1 -size 64 -duration 10s -session-expiry 300s 2>&1 | grep -E "msg/s|lost|CPU" | tail -4
  kill $pid; wait $pid 2>/dev/null; rm -rf $work
}
run_ours "ours fsync=always"   EMQX_PERSISTENCE__FSYNC=always
run_ours "ours fsync=interval" EMQX_PERSISTENCE__FSYNC=interval
run_ours "ours fsync=never"    EMQX_PERSISTENCE__FSYNC=never
run_ours "ours persistence off" EMQX_PERSISTENCE__ENABLE=off
work=$(mktemp -d); port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\n' $port $work > $work/m.conf
mosquitto -c $work/m.conf >/dev/null 2>&1 & pid=$!; sleep 1
echo "== mosquitto persistence true"
./bin/emqx_bench p2p -broker 127.0.0.1:$port -broker-pid $pid -clients 8 -qos 1 -size 64 -duration 10s -session-expiry 300s 2>&1 | grep -E "msg/s|lost|CPU" | tail -4
kill $pid; wait $pid 2>/dev/null; rm -rf $work
