package htapod_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/htapod/htapod"
	"github.com/htapod/htapod/respond"
)

// A Go program answers some of the command's requests itself, slows
// others down, and lets the rest through — for any client, with no proxy
// setting.
func ExampleWithResponder() {
	r := htapod.New(
		htapod.WithResponder(func(req *http.Request) respond.Decision {
			switch {
			case strings.HasSuffix(req.URL.Path, "/feature-flags"):
				return respond.Decision{Action: "mock", Response: &respond.Response{
					Status: 200,
					Header: http.Header{"Content-Type": {"application/json"}},
					Body:   []byte(`{"new_ui":true}`),
				}}
			case req.URL.Hostname() == "slow.example":
				return respond.Decision{Action: "fault delay", Fault: &respond.Fault{Delay: 2 * time.Second}}
			}
			return respond.Decision{} // forward
		}),
		htapod.WithReport(os.Stderr),
	)
	_, _ = r.Run(context.Background(), "./integration-tests.sh")
}

// A recorded run, replayed without any network: the same requests get the
// same answers, and the names resolve from the recording.
func ExampleWithReplay() {
	rp, err := respond.LoadReplay("run.har", respond.ReplayOptions{IgnoreParams: []string{"_ts"}})
	if err != nil {
		panic(err)
	}
	r := htapod.New(htapod.WithReplay(rp))
	_, _ = r.Run(context.Background(), "npm", "test")
}
