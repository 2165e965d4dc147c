# apt-install.sh is sourced by the setup scripts. apt_install PKG... installs
# Debian packages without letting their scripts start services (nginx would
# listen on the host's port 80, iperf3 would start its daemon): the tests and
# the benchmark start their own, inside the lab.
apt_install() {
	[ "$#" -gt 0 ] || return 0
	local own_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		own_policy=1
	fi
	local rc=0
	DEBIAN_FRONTEND=noninteractive apt-get update -q &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" || rc=$?
	if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
	return "$rc"
}
