package filter_test

import (
	"fmt"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/filter"
)

func ExampleParse() {
	f, err := filter.Parse("~d api.lab.test ~m POST !~c 2..")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f)
	for _, e := range []event.Event{
		&event.HTTP{Phase: event.PhaseDone, Method: "POST", Authority: "api.lab.test", Status: 503},
		&event.HTTP{Phase: event.PhaseDone, Method: "POST", Authority: "api.lab.test", Status: 201},
		&event.DNS{Name: "api.lab.test"},
	} {
		fmt.Println(f.Match(e))
	}
	// Output:
	// ~d api.lab.test & ~m POST & !~c 2xx
	// true
	// false
	// false
}

func ExampleParse_error() {
	_, err := filter.Parse("~d api & ~c 2..4")
	fmt.Println(err)
	// Output:
	// --filter: bad status "2..4" for ~c at column 13
	//   ~d api & ~c 2..4
	//               ^
	// write a status as 404, a class as 4xx or 4.., a range as 400..404, 400.. or ..399
}

func ExampleFilter_Highlight() {
	f, err := filter.Grep("token=[0-9a-f]+")
	if err != nil {
		fmt.Println(err)
		return
	}
	line := "→    GET https://api.lab.test/login?token=c0ffee&next=/"
	for _, sp := range f.Highlight(line) {
		fmt.Println(line[sp.Start:sp.End])
	}
	// Output:
	// token=c0ffee
}

func ExampleFlowSet() {
	f, _ := filter.Parse("~m POST")
	flows := filter.NewFlowSet(f, 0)
	for _, e := range []event.Event{
		&event.TLS{FlowID: 1, SNI: "api.lab.test"},
		&event.HTTP{FlowID: 1, Method: "POST", Authority: "api.lab.test"},
		&event.HTTP{FlowID: 2, Method: "GET", Authority: "www.lab.test"},
		&event.Flow{ID: 1, Proto: event.TCP},
		&event.Flow{ID: 2, Proto: event.TCP},
	} {
		fmt.Println(e.Kind(), flows.Observe(e))
	}
	fmt.Println(flows.Keep(1), flows.Keep(2))
	// Output:
	// tls false
	// http true
	// http false
	// flow true
	// flow false
	// true false
}
