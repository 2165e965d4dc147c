package reliability

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"syscall"
	"time"
)

// urlList is a repeatable -url flag.
type urlList []string

func (u *urlList) String() string     { return fmt.Sprint(*u) }
func (u *urlList) Set(s string) error { *u = append(*u, s); return nil }

// httpMode GETs each -url (each on a connection of its own) and prints
// "get URL status=N bytes=N"; then, with -slow, GETs that endless body
// and reads it until the connection ends (or, with -kill-after, until that
// many bytes came and then kills itself with SIGKILL):
//
//	slow bytes=N end=OUTCOME
func httpMode(fs *flag.FlagSet) func(context.Context) error {
	var urls urlList
	fs.Var(&urls, "url", "a URL to GET (repeatable)")
	slow := fs.String("slow", "", "a URL whose body does not end")
	killAfter := fs.Int64("kill-after", 0, "SIGKILL ourselves after this many bytes of -slow")
	return func(ctx context.Context) error {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		for _, u := range urls {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return err
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil {
				return fmt.Errorf("GET %s: %w", u, err)
			}
			fmt.Printf("get %s status=%d bytes=%d\n", u, resp.StatusCode, n)
		}
		if *slow == "" {
			return nil
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, *slow, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		fmt.Println("slow started")
		var got int64
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			got += int64(n)
			if *killAfter > 0 && got >= *killAfter {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Second) // the signal is on its way
			}
			if err != nil {
				fmt.Printf("slow bytes=%d end=%s\n", got, outcome(err))
				return nil
			}
		}
	}
}

// bgMode is the process a command leaves behind: it GETs -url -n times,
// -every apart, each on a new connection, and then creates the file
// -done. Its output goes wherever the command's script sends it.
func bgMode(fs *flag.FlagSet) func(context.Context) error {
	url := fs.String("url", "", "the URL to GET")
	n := fs.Int("n", 5, "requests")
	every := fs.Duration("every", 600*time.Millisecond, "between requests")
	done := fs.String("done", "", "the file to create at the end")
	return func(ctx context.Context) error {
		defer os.WriteFile(*done, nil, 0o644)
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		ok := 0
		for i := range *n {
			time.Sleep(*every)
			resp, err := client.Get(*url)
			if err != nil {
				fmt.Printf("bg %d: %v\n", i, err)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			fmt.Printf("bg %d: %d\n", i, resp.StatusCode)
			ok++
		}
		fmt.Printf("bg ok=%d\n", ok)
		return nil
	}
}
