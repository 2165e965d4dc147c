package reliability

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/htapod/htapod/internal/lab"
)

// A dnsCase is one query of the DNS check and its right answer: the
// response code and the answer records' data in presentation form, in
// the order the lab's server sends them.
type dnsCase struct {
	name  string
	qtype uint16
	rcode int
	want  []string
}

// bigTXT is the answer to big.lab.test TXT, which needs TCP.
var bigTXT = func() []string {
	var out []string
	for _, s := range lab.BigTXT() {
		out = append(out, `"`+s+`"`)
	}
	return out
}()

// dnsCaseFor returns the i-th query of the DNS check. Every twentieth is
// the same kind; the NXDOMAIN names are unique, so no cache answers them.
func dnsCaseFor(i int) dnsCase {
	switch i % 20 {
	case 0, 1, 2, 3:
		return dnsCase{"www.lab.test", dns.TypeA, dns.RcodeSuccess, []string{lab.WWW4}}
	case 4, 5:
		return dnsCase{"www.lab.test", dns.TypeAAAA, dns.RcodeSuccess, []string{lab.WWW6}}
	case 6, 7:
		return dnsCase{"api.lab.test", dns.TypeA, dns.RcodeSuccess, []string{lab.API4}}
	case 8, 9:
		return dnsCase{"alias.lab.test", dns.TypeA, dns.RcodeSuccess, []string{"www.lab.test.", lab.WWW4}}
	case 10:
		return dnsCase{"lab.test", dns.TypeMX, dns.RcodeSuccess, []string{"10 mail.lab.test."}}
	case 11:
		return dnsCase{"lab.test", dns.TypeTXT, dns.RcodeSuccess, []string{`"v=lab1 htapod sealed test zone"`}}
	case 12, 13, 14, 15:
		return dnsCase{fmt.Sprintf("nx-%d.lab.test", i), dns.TypeA, dns.RcodeNameError, nil}
	case 16:
		// htapod's resolver answers from the hosts file first.
		return dnsCase{lab.HostsOnlyName, dns.TypeA, dns.RcodeSuccess, []string{lab.API4}}
	case 17:
		return dnsCase{lab.BigName, dns.TypeTXT, dns.RcodeSuccess, bigTXT}
	case 18:
		return dnsCase{lab.FailName, dns.TypeA, dns.RcodeServerFailure, nil}
	}
	return dnsCase{"10.113.0.203.in-addr.arpa", dns.TypePTR, dns.RcodeSuccess, []string{"www.lab.test."}}
}

// rdata is the data of rr in presentation form.
func rdata(rr dns.RR) string {
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

// dnsMode sends -n queries (dnsCaseFor) to the first nameserver of
// /etc/resolv.conf, -par at a time, over UDP as a stub resolver does: a
// new socket per query, three tries of 2 s, and TCP when the answer is
// truncated. It checks every answer:
//
//	dns n=N ok=N wrong=N unanswered=N retries=N tcp=N elapsed=D
func dnsMode(fs *flag.FlagSet) func(context.Context) error {
	n := fs.Int("n", 10000, "queries")
	par := fs.Int("par", 32, "queries at a time")
	return func(ctx context.Context) error {
		conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return err
		}
		if len(conf.Servers) == 0 {
			return fmt.Errorf("/etc/resolv.conf names no nameserver")
		}
		server := net.JoinHostPort(conf.Servers[0], conf.Port)
		var (
			ok, wrong, unanswered, retries, viaTCP atomic.Int64
			mu                                     sync.Mutex
			shown                                  int
		)
		report := func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			if shown++; shown <= 10 {
				fmt.Fprintf(os.Stderr, format+"\n", args...)
			}
		}
		next := make(chan int)
		var wg sync.WaitGroup
		start := time.Now()
		for range *par {
			wg.Go(func() {
				udp := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
				tcp := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
				for i := range next {
					q := dnsCaseFor(i)
					m := new(dns.Msg)
					m.SetQuestion(dns.Fqdn(q.name), q.qtype)
					var resp *dns.Msg
					var err error
					for try := range 3 {
						if try > 0 {
							retries.Add(1)
						}
						if resp, _, err = udp.ExchangeContext(ctx, m, server); err == nil {
							break
						}
					}
					if err == nil && resp.Truncated {
						viaTCP.Add(1)
						resp, _, err = tcp.ExchangeContext(ctx, m, server)
					}
					if err != nil {
						unanswered.Add(1)
						report("query %d %s %s: %v", i, q.name, dns.TypeToString[q.qtype], err)
						continue
					}
					var got []string
					for _, rr := range resp.Answer {
						got = append(got, rdata(rr))
					}
					if resp.Rcode != q.rcode || !slices.Equal(got, q.want) {
						wrong.Add(1)
						report("query %d %s %s: %s %q; want %s %q", i, q.name, dns.TypeToString[q.qtype],
							dns.RcodeToString[resp.Rcode], got, dns.RcodeToString[q.rcode], q.want)
						continue
					}
					ok.Add(1)
				}
			})
		}
		for i := range *n {
			if ctx.Err() != nil {
				break
			}
			next <- i
		}
		close(next)
		wg.Wait()
		fmt.Printf("dns n=%d ok=%d wrong=%d unanswered=%d retries=%d tcp=%d elapsed=%s server=%s\n", *n, ok.Load(),
			wrong.Load(), unanswered.Load(), retries.Load(), viaTCP.Load(), time.Since(start).Round(time.Millisecond), server)
		if ok.Load() != int64(*n) {
			return fmt.Errorf("%d of %d queries had no right answer", int64(*n)-ok.Load(), *n)
		}
		return nil
	}
}
