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
//	203.0.113.12                no name; a plain TCP echo on :443 (StartTLSServers)
//	203.0.113.53                the lab's DNS server (UDP and TCP port 53)
//	198.51.100.1                a host with no name and no server
//
// The servers a test starts, besides StartServers' plain HTTP and echo:
// StartWeb runs nginx with an HTTPS site on :443 of www.lab.test (and
// :4412, :4413 for TLS 1.2 and 1.3 only), StartTLSServers the servers with
// bad certificates (:8441 untrusted, :8442 expired, :8443 wrong name),
// StartGRPC gRPC's health service (:9443 TLS, :9080 h2c) and
// StartWebSocket an echo (:8080 ws, :8444 wss). Their certificates come
// from PKI, a CA made afresh for each lab; htapod is told to trust it with
// --upstream-ca PKI().CAFile. Client builds labclient, the lab's own Go
// client (net/http, gRPC, WebSocket), for the unprivileged user.
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
