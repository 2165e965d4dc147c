package har_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/htapod/htapod/event"
	"github.com/htapod/htapod/sink/har"
)

func Example() {
	dir, _ := os.MkdirTemp("", "har-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "run.har")

	w, err := har.New(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	w.Handle(&event.HTTP{FlowID: 1, Seq: 1, Phase: event.PhaseDone, Proto: "HTTP/1.1",
		Scheme: "https", Method: "GET", Authority: "www.lab.test", Path: "/?q=1",
		Status: 200, Reason: "OK", Start: start, RespStart: start.Add(30 * time.Millisecond),
		End: start.Add(32 * time.Millisecond)})
	if err := w.Close(); err != nil {
		fmt.Println(err)
		return
	}

	b, _ := os.ReadFile(path)
	var doc struct {
		Log struct {
			Entries []struct {
				Time    float64
				Request struct {
					URL         string
					QueryString []struct{ Name, Value string }
				}
			}
		}
	}
	json.Unmarshal(b, &doc)
	e := doc.Log.Entries[0]
	fmt.Println(e.Request.URL, e.Request.QueryString, e.Time)
	// Output:
	// https://www.lab.test/?q=1 [{q 1}] 32
}
