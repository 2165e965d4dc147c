package reliability

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/htapod/htapod/internal/lab"
)

// lifecycleURLs are the exchanges a lifecycle run finishes before it is
// interrupted: its outputs must hold each of them.
var lifecycleURLs = []string{
	"http://www.lab.test/bytes?n=1000",
	"http://www.lab.test/bytes?n=100000",
	"http://api.lab.test/",
}

// slowURL is the transfer under way when the run is interrupted.
const slowURL = "http://www.lab.test:9100/slow"

// trapScript runs "$@" in the background and waits for it; on SIGTERM or
// SIGINT it ends it and exits 42 or 43. Exit 9 means no signal came.
const trapScript = `"$@" & pid=$!
trap 'kill $pid; wait $pid; exit 42' TERM
trap 'kill $pid; wait $pid; exit 43' INT
wait $pid
exit 9`

// TestSignalMidTransfer sends SIGTERM or SIGINT to htapod while its
// command is in the middle of a download, after three finished exchanges.
// The command must get the signal (a script's trap decides the exit
// status; a command without one dies of it: 128+N), htapod must exit with
// the command's status, and every output must be complete.
func TestSignalMidTransfer(t *testing.T) {
	tests := []struct {
		name string
		sig  syscall.Signal
		trap bool
		want int
	}{
		{"SIGTERM-trapped", syscall.SIGTERM, true, 42},
		{"SIGINT-trapped", syscall.SIGINT, true, 43},
		{"SIGTERM", syscall.SIGTERM, false, 128 + int(syscall.SIGTERM)},
		{"SIGINT", syscall.SIGINT, false, 128 + int(syscall.SIGINT)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			started := e.serveSlowHTTP(addr(portSlow))
			argv := httpClientArgs(e, 0)
			if tt.trap {
				argv = append([]string{"sh", "-c", trapScript, "sh"}, argv...)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			p := e.tap(ctx, lab.RunOptions{}, outputFlags(e.Home()), argv...)
			select {
			case <-started:
			case <-p.Done():
				t.Fatalf("htapod ended before the download started: %v", p.Wait())
			case <-time.After(30 * time.Second):
				p.Signal(os.Kill)
				t.Fatalf("the download did not start within 30 s: %v", p.Wait())
			}
			time.Sleep(300 * time.Millisecond) // well into the transfer
			if err := p.Signal(tt.sig); err != nil {
				t.Fatalf("signal htapod: %v", err)
			}
			sent := time.Now()
			select {
			case <-p.Done():
			case <-time.After(15 * time.Second):
				p.Signal(os.Kill)
				t.Fatalf("htapod did not exit within 15 s of %v: %v", tt.sig, p.Wait())
			}
			res := p.Wait()
			t.Logf("htapod exited %v after %v", res.ExitCode, time.Since(sent).Round(time.Millisecond))
			if res.ExitCode != tt.want {
				t.Errorf("htapod after %v mid-transfer: %v; want exit %d", tt.sig, res, tt.want)
			}
			checkOutputs(t, e.Home(), lifecycleURLs)
			checkSlowFlow(t, e)
		})
	}
}

// TestCommandKilled kills the command with SIGKILL in the middle of a
// download: htapod must exit 137 with complete outputs.
func TestCommandKilled(t *testing.T) {
	e := newEnv(t)
	e.serveSlowHTTP(addr(portSlow))
	res := e.runTap(time.Minute, lab.RunOptions{}, outputFlags(e.Home()), httpClientArgs(e, 256<<10)...)
	if res.ExitCode != 128+int(syscall.SIGKILL) {
		t.Errorf("htapod when its command was killed by SIGKILL: %v; want exit 137", res)
	}
	checkOutputs(t, e.Home(), lifecycleURLs)
	checkSlowFlow(t, e)
}

// httpClientArgs is the lifecycle command: the finished exchanges, then
// the slow download (that kills itself after killAfter bytes, if not 0).
func httpClientArgs(e *env, killAfter int) []string {
	argv := []string{e.client, "http", "-slow", slowURL, "-limit", "50s"}
	for _, u := range lifecycleURLs {
		argv = append(argv, "-url", u)
	}
	if killAfter > 0 {
		argv = append(argv, "-kill-after", itoa(killAfter))
	}
	return argv
}

// checkSlowFlow wants the interrupted download reported as a flow that
// ended, whichever way.
func checkSlowFlow(t *testing.T, e *env) {
	t.Helper()
	evs, err := readJSONLines(e.path("events.jsonl"))
	if err != nil {
		return // checkOutputs said so
	}
	if flows := flowsTo(evs, "tcp", addr(portSlow)); len(flows) != 1 {
		t.Errorf("JSON lines: %d flows to %s; want the interrupted download's", len(flows), addr(portSlow))
	} else {
		t.Logf("the interrupted download: %.0f bytes down, ended %s", flows[0].num("down"), flows[0].str("ended"))
	}
}

// TestWaitAll runs a command that leaves a process behind, which makes a
// request every 600 ms for 3 s. Without --wait-all htapod exits with the
// command; with it, htapod waits for that process and reports its flows.
func TestWaitAll(t *testing.T) {
	const requests = 5
	bgURL := "http://www.lab.test/bytes?n=777"
	for _, waitAll := range []bool{false, true} {
		name := map[bool]string{false: "without", true: "with"}[waitAll]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			done := e.path("bg.done")
			script := `"$@" >"$HOME/bg.log" 2>&1 </dev/null & echo started`
			argv := []string{"sh", "-c", script, "sh", e.client, "bg", "-url", bgURL, "-n", itoa(requests),
				"-every", "600ms", "-done", done, "-limit", "20s"}
			flags := []string{"--json", "-o", e.path("events.jsonl")}
			if waitAll {
				flags = append(flags, "--wait-all")
			}
			res := e.runTap(time.Minute, lab.RunOptions{}, flags, argv...)
			_, err := os.Stat(done)
			bgDoneFirst := err == nil
			// The process left behind ends by itself (its -limit), also
			// when it lost the network with htapod: wait for it, so that
			// nothing of this test outlives it.
			bgEnded := waitForFile(done, 30*time.Second)
			bgLog, _ := os.ReadFile(e.path("bg.log"))
			t.Logf("htapod exited %d after %v; the background process said:\n%s", res.ExitCode,
				res.Duration.Round(time.Millisecond), bgLog)
			if !bgEnded {
				t.Errorf("the background process did not end within 30 s")
			}
			if res.ExitCode != 0 {
				t.Fatalf("htapod %q: %v; want exit 0", flags, res)
			}
			evs, err := readJSONLines(e.path("events.jsonl"))
			if err != nil {
				t.Fatalf("JSON lines: %v", err)
			}
			reported := 0
			for _, ev := range evs {
				if ev.str("type") == "http" && ev.str("phase") == "done" && ev.str("url") == bgURL && ev.num("status") == 200 {
					reported++
				}
			}
			if !waitAll {
				if bgDoneFirst {
					t.Errorf("without --wait-all htapod ran %v, until the background process had ended; "+
						"want it to exit with the command", res.Duration)
				}
				return
			}
			if !bgDoneFirst || res.Duration < requests*600*time.Millisecond {
				t.Errorf("with --wait-all htapod ran %v and exited before the background process ended; want it to wait for it", res.Duration)
			}
			if reported != requests {
				t.Errorf("with --wait-all htapod reported %d of the background process's %d exchanges", reported, requests)
			}
		})
	}
}

// waitForFile waits until path exists, for at most d.
func waitForFile(path string, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return true
		}
	}
	return false
}
