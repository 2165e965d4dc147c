package lab

// Addresses of the uplink (AddUplink): a /30 from a documentation range
// that no lab host uses.
const (
	// UplinkAddr is the lab's end of the uplink, UplinkGateway the other.
	UplinkAddr    = "192.0.2.253"
	UplinkGateway = "192.0.2.254"
)

// AddUplink gives the lab a default route, as a machine on a network has:
// a veth pair to a second namespace of its own (the lab's name + "-gw"),
// with the default route through it. Tools that insist on a routable
// interface to copy their setup from (pasta) then start. The second
// namespace has nothing but its end of the pair: it does not forward, so a
// packet to an address outside the lab goes there and is dropped — it
// fails by timeout instead of at once with "network unreachable", and it
// still never leaves the machine. Only the benchmark uses it; the tests
// keep the lab without a route. Both go when the test ends.
func (l *Lab) AddUplink() {
	l.tb.Helper()
	gw := l.name + "-gw"
	if err := ipCmd("netns", "add", gw); err != nil {
		l.tb.Fatalf("lab: uplink: %v", err)
	}
	l.tb.Cleanup(func() {
		if err := ipCmd("netns", "delete", gw); err != nil {
			l.tb.Errorf("lab: uplink: %v", err)
		}
	})
	steps := [][]string{
		{"link", "add", "htapod-up0", "netns", l.name, "type", "veth", "peer", "name", "htapod-gw0", "netns", gw},
		{"-n", gw, "link", "set", "lo", "up"},
		{"-n", gw, "addr", "add", UplinkGateway + "/30", "dev", "htapod-gw0"},
		{"-n", gw, "link", "set", "htapod-gw0", "up"},
		{"-n", l.name, "addr", "add", UplinkAddr + "/30", "dev", "htapod-up0"},
		{"-n", l.name, "link", "set", "htapod-up0", "up"},
		{"-n", l.name, "route", "add", "default", "via", UplinkGateway, "dev", "htapod-up0"},
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			l.tb.Fatalf("lab: uplink: %v", err)
		}
	}
}
