#!/usr/bin/env bash
# test-setup.sh prepares this machine for htapod's lab tests (internal/lab,
# e2e). Run it as root; `make test` does. It is idempotent, and fast when the
# machine is already prepared: it only calls apt-get when a tool is missing.
#
# What it does, and why:
#   - installs the clients and servers the tests run (Debian packages);
#   - makes /dev/net/tun usable by every user (mode 0666): htapod runs as an
#     unprivileged user and opens it inside its own user namespace. Most
#     distributions ship it 0666; some fresh machines have it 0600;
#   - creates the unprivileged system user htapod-test that runs htapod;
#   - allows unprivileged user namespaces where a sysctl forbids them.
set -euo pipefail
# shellcheck source=apt-install.sh
. "$(dirname "$0")/apt-install.sh"

log() { printf 'test-setup: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
	log "must run as root: the lab needs network namespaces. Try: sudo make test"
	exit 1
fi

# tool-or-file:package pairs. A path must exist; a name must be on PATH.
wanted=(
	ip:iproute2
	setpriv:util-linux
	getent:libc-bin
	useradd:passwd
	curl:curl
	wget:wget
	dig:dnsutils
	socat:socat
	nginx:nginx
	/usr/bin/python3:python3
	node:nodejs
	# Node's ws (the most used Node WebSocket library) negotiates
	# permessage-deflate on terms of its own; the tests put
	# /usr/share/nodejs on NODE_PATH.
	/usr/share/nodejs/ws/package.json:node-ws
	git:git
	openssl:openssl
	h2load:nghttp2-client
	java:default-jdk-headless
	/etc/ssl/certs/ca-certificates.crt:ca-certificates
	# Trust stores and the clients of docs/compatibility.md.
	chromium:chromium
	firefox-esr:firefox-esr
	certutil:libnss3-tools
	gnutls-cli:gnutls-bin
	ruby:ruby
	php:php-cli
)
missing=()
for pair in "${wanted[@]}"; do
	tool=${pair%%:*} pkg=${pair#*:}
	case $tool in
	/*) [ -e "$tool" ] || missing+=("$pkg") ;;
	*) command -v "$tool" >/dev/null 2>&1 || missing+=("$pkg") ;;
	esac
done
# The tests use OpenBSD netcat's -N (shut down the socket on EOF).
if ! dpkg-query -W -f='${Status}' netcat-openbsd 2>/dev/null | grep -q 'ok installed'; then
	missing+=(netcat-openbsd)
fi
# Debian's python3 without the requests module (the TLS tests use both).
if ! /usr/bin/python3 -c 'import requests' >/dev/null 2>&1; then
	missing+=(python3-requests)
fi
if ! /usr/bin/python3 -c 'import httpx' >/dev/null 2>&1; then
	missing+=(python3-httpx)
fi
if ! /usr/bin/python3 -m pip --version >/dev/null 2>&1; then
	missing+=(python3-pip)
fi
if ! php -m 2>/dev/null | grep -qx curl; then
	missing+=(php-curl)
fi
# Python's websockets client negotiates permessage-deflate (the WebSocket tests).
if ! /usr/bin/python3 -c 'import websockets' >/dev/null 2>&1; then
	missing+=(python3-websockets)
fi

if [ "${#missing[@]}" -gt 0 ]; then
	log "installing ${missing[*]}"
	apt_install "${missing[@]}"
fi

if [ ! -c /dev/net/tun ]; then
	log "creating /dev/net/tun"
	mkdir -p /dev/net
	mknod /dev/net/tun c 10 200
fi
chmod 0666 /dev/net/tun

if ! id htapod-test >/dev/null 2>&1; then
	log "creating user htapod-test"
	useradd --system --no-create-home --shell /usr/sbin/nologin htapod-test
fi

# Debian kernels before 6.1 had this switch; 0 forbids what htapod does.
if [ -e /proc/sys/kernel/unprivileged_userns_clone ] &&
	[ "$(cat /proc/sys/kernel/unprivileged_userns_clone)" = 0 ]; then
	log "allowing unprivileged user namespaces (kernel.unprivileged_userns_clone=1)"
	echo 1 >/proc/sys/kernel/unprivileged_userns_clone
fi
if [ "$(cat /proc/sys/user/max_user_namespaces)" = 0 ]; then
	log "allowing user namespaces (user.max_user_namespaces=1000)"
	echo 1000 >/proc/sys/user/max_user_namespaces
fi

log "ready"
