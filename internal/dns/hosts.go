package dns

import (
	"bufio"
	"net/netip"
	"os"
	"strings"

	mdns "github.com/miekg/dns"
)

// hosts is a parsed hosts(5) file: names to addresses and back.
type hosts struct {
	byName map[string][]netip.Addr // keys are lower-case FQDNs with the dot
	byPTR  map[string]string       // reverse name (…in-addr.arpa.) to canonical name
}

// loadHosts reads path; a missing file is an empty table.
func loadHosts(path string) (*hosts, error) {
	h := &hosts{byName: map[string][]netip.Addr{}, byPTR: map[string]string{}}
	if path == "" {
		return h, nil
	}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return h, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		addr, err := netip.ParseAddr(fields[0])
		if err != nil {
			continue
		}
		addr = addr.WithZone("")
		for i, name := range fields[1:] {
			h.add(name, addr, i == 0)
		}
	}
	return h, sc.Err()
}

func (h *hosts) add(name string, addr netip.Addr, canonical bool) {
	key := fqdn(name)
	h.byName[key] = append(h.byName[key], addr)
	if !canonical {
		return
	}
	if rev, err := mdns.ReverseAddr(addr.String()); err == nil {
		if _, ok := h.byPTR[rev]; !ok {
			h.byPTR[rev] = key
		}
	}
}

// fqdn lower-cases name and adds the final dot.
func fqdn(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}
