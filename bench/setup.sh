#!/usr/bin/env bash
# setup.sh prepares this machine for `make bench`: what the lab needs
# (scripts/test-setup.sh: nginx, the user htapod-test, /dev/net/tun) and the
# load generators of the benchmark. Run it as root; `make bench` does. It is
# idempotent and only calls apt-get when a tool is missing. It never installs
# pasta: the benchmark only adds a pasta column where pasta already is.
set -euo pipefail

log() { printf 'bench-setup: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
	log "must run as root: the lab needs network namespaces. Try: sudo make bench"
	exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../scripts/test-setup.sh"

# tool:package pairs.
wanted=(
	iperf3:iperf3
	wrk:wrk
	h2load:nghttp2-client
	nginx:nginx
	curl:curl
)
missing=()
for pair in "${wanted[@]}"; do
	tool=${pair%%:*} pkg=${pair#*:}
	command -v "$tool" >/dev/null 2>&1 || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
	log "installing ${missing[*]}"
	# Keep package scripts from starting services (iperf3's daemon, nginx
	# on the host's port 80); the benchmark starts its own, in the lab.
	own_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		own_policy=1
	fi
	cleanup() { if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
	trap cleanup EXIT
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

log "ready"
