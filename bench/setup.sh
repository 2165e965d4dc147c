#!/usr/bin/env bash
# setup.sh prepares this machine for `make bench`: what the lab needs
# (scripts/test-setup.sh: nginx, the user htapod-test, /dev/net/tun) and the
# load generators of the benchmark. Run it as root; `make bench` does. It is
# idempotent and only calls apt-get when a tool is missing. pasta (passt) and
# slirp4netns are the reference columns: user-mode networking as other
# rootless tools do it.
set -euo pipefail
# shellcheck source=../scripts/apt-install.sh
. "$(dirname "$0")/../scripts/apt-install.sh"

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
	pasta:passt
	slirp4netns:slirp4netns
)
missing=()
for pair in "${wanted[@]}"; do
	tool=${pair%%:*} pkg=${pair#*:}
	command -v "$tool" >/dev/null 2>&1 || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
	log "installing ${missing[*]}"
	apt_install "${missing[@]}"
fi

log "ready"
