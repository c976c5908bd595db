#!/usr/bin/env bash
# Installs the Debian packages that the tests and the load suite need, once per machine:
#   mosquitto-clients  mosquitto_pub / mosquitto_sub, used by engine's client-interop tests
#   mosquitto          the peer broker of the load suite (make bench-load), and the PSK
#                      listener engine/transport/tlspsk's client is tested against
#   openssl            s_client/s_server: interop of engine/transport/tlspsk (TLS-PSK) and of
#                      RSA handshakes; it brings libssl3's libcrypto.so.3, which
#                      engine/transport/osslsign signs with
#   redis-server       the backend of emqx_auth_redis's tests (redis-cli comes with it; the
#                      sentinel tests run `redis-server --sentinel`, the cluster tests
#                      `redis-cli --cluster create`)
#   postgresql         the backend of emqx_auth_pgsql's tests (initdb and postgres under
#                      /usr/lib/postgresql/<version>/bin; the tests run their own cluster)
#   mariadb-server     the backend of emqx_auth_mysql's tests (mariadbd, mariadb-install-db)
#   slapd, ldap-utils  the backend of emqx_auth_ldap's tests (/usr/sbin/slapd; the tests run
#                      their own server from a generated slapd.conf)
#   chromium           the browser the dashboard's tests drive headless (chromedp)
#   dnsmasq-base       the DNS server of the cluster's dns discovery test (/usr/sbin/dnsmasq,
#                      run by the test on a loopback port; -base ships no system service)
#   iproute2           `ip netns` / `ip link` of the cluster's partition test
# Idempotent and quiet when everything is present. As root it uses apt-get directly, otherwise
# sudo. A server it installs is never left running as a system service: service start-up
# is refused during the install (policy-rc.d) and the unit is disabled and stopped afterwards.
set -euo pipefail

need=()
if ! command -v mosquitto_pub >/dev/null 2>&1 || ! command -v mosquitto_sub >/dev/null 2>&1; then
	need+=(mosquitto-clients)
fi
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
	need+=(mosquitto)
fi
if ! command -v openssl >/dev/null 2>&1; then
	need+=(openssl)
fi
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
	need+=(redis-server)
fi
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null && ! command -v initdb >/dev/null 2>&1; then
	need+=(postgresql)
fi
if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
	need+=(mariadb-server)
fi
if [ ! -x /usr/sbin/slapd ]; then
	need+=(slapd)
fi
if ! command -v ldapsearch >/dev/null 2>&1; then
	need+=(ldap-utils)
fi
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
	need+=(chromium)
fi
if [ ! -x /usr/sbin/dnsmasq ]; then
	need+=(dnsmasq-base)
fi
if ! command -v ip >/dev/null 2>&1 && [ ! -x /usr/sbin/ip ] && [ ! -x /sbin/ip ]; then
	need+=(iproute2)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "tools/ci/deps.sh: no apt-get on this machine: install ${need[*]} with your package manager" >&2
	exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "tools/ci/deps.sh: ${need[*]} missing; run as root or install sudo" >&2
		exit 1
	fi
	sudo="sudo"
fi

# Refuse service start-up during the install unless a policy already exists (Docker images
# ship one that refuses everything).
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	$sudo sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
	trap '$sudo rm -f "$policy"' EXIT
fi

echo "installing test dependencies: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

for svc in mosquitto redis-server postgresql mariadb slapd; do
	if [[ " ${need[*]} " == *" $svc "* || " ${need[*]} " == *" $svc-server "* ]]; then
		if [ -d /run/systemd/system ]; then
			$sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
		else
			$sudo service "$svc" stop >/dev/null 2>&1 || true
		fi
	fi
done
