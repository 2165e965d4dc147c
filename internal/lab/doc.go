// Package lab builds a sealed test network for htapod's end-to-end tests.
//
// A Lab is a network namespace with no route out. The addresses of a small
// pretend internet live on its loopback device, so that real clients (curl,
// dig, python3, node) and real servers (Go servers started here, nginx) talk to
// each other without any packet leaving the machine: a packet to an address
// that is not in the lab fails with "network unreachable".
//
// The addresses and names of the lab:
//
//	203.0.113.10, 2001:db8::10  www.lab.test (HTTP on :80, TCP and UDP echo on :7)
//	203.0.113.11                api.lab.test
//	203.0.113.53                the lab's DNS server (UDP and TCP port 53)
//	198.51.100.1                a host with no name and no server
//
// Inside the lab, /etc/resolv.conf names the lab's DNS server and the search
// domain lab.test, and /etc/hosts holds hosts-only.lab.test, a name that DNS
// does not know. Both files are bind-mounted by `ip netns exec` for every
// process that Run and Start launch.
//
// Creating a lab needs root, ip(8), setpriv(1) and a /dev/net/tun that anyone
// may open; without them New skips the test and says how to run the lab tests
// (`sudo make test`). Everything a Lab creates is removed by tb.Cleanup, also
// when the test fails. Only processes the lab started are ever signalled, and
// only by their PID.
package lab
