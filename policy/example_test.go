package policy_test

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/policy"
)

func ExamplePolicy_Decide() {
	p := policy.New()
	err := p.Parse("ci.policy", strings.NewReader(`
deny  evil.lab.test
allow *.lab.test
allow udp:203.0.113.53:53
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, q := range []policy.Query{
		{Proto: event.TCP, Addr: netip.MustParseAddr("203.0.113.10"), Port: 443, Name: "www.lab.test"},
		{Proto: event.TCP, Addr: netip.MustParseAddr("203.0.113.66"), Port: 443, Name: "evil.lab.test"},
		{Proto: event.TCP, Addr: netip.MustParseAddr("203.0.113.20"), Port: 7},
	} {
		v := p.Decide(q)
		fmt.Printf("%s %v: %v by %s\n", q.Name, q.Addr, v.Allow, v.Reason())
	}
	// Output:
	// www.lab.test 203.0.113.10: true by allow *.lab.test (ci.policy:3)
	// evil.lab.test 203.0.113.66: false by deny evil.lab.test (ci.policy:2)
	//  203.0.113.20: false by no rule matched (allow rules given: the rest is denied)
}

func ExamplePolicy_Parse_error() {
	err := policy.New().Parse("ci.policy", strings.NewReader("allow *.lab.test\nallow www.lab.test:http\n"))
	fmt.Println(err)
	// Output:
	// ci.policy:2:20: bad port "http" (want 1-65535)
}
