// Package htapod wraps a command and shows everything it says on the
// network — TCP, UDP and DNS — without root, without proxy settings and
// without the command's cooperation.
//
// The command runs in a box of its own (new user, network and mount
// namespaces) whose only way out is a TUN device. htapod runs a user-space
// TCP/IP stack on that device, relays every flow unchanged to its real
// destination from the host side, answers DNS itself, and reports each
// flow as an event.
//
// A program that uses this package must call Init first in main: the box's
// init is the same binary, re-executed, and Init is where it takes over.
//
//	func main() {
//		htapod.Init()
//		r := htapod.New(htapod.WithReport(os.Stderr))
//		status, err := r.Run(context.Background(), "curl", "-s", "http://example.com/")
//		…
//	}
package htapod

import (
	"log/slog"
	"net/netip"
	"os"
	"syscall"

	"github.com/htapod/htapod/internal/sandbox"
)

// Init takes over when this binary was re-executed as a box's init, and
// never returns then; otherwise it returns at once. Call it first in main,
// before flags are parsed or goroutines started.
func Init() { sandbox.Init() }

// The box's own addresses and the resolver addresses its resolv.conf
// names. They are virtual: only port 53 of the resolver answers. The
// ranges were picked to be unlikely to be real destinations (a private
// 10/8 subnet and a ULA prefix).
var (
	BoxAddr4      = netip.MustParseAddr("10.0.85.2")
	BoxAddr6      = netip.MustParseAddr("fd68:7461:706f::2")
	ResolverAddr4 = netip.MustParseAddr("10.0.85.1")
	ResolverAddr6 = netip.MustParseAddr("fd68:7461:706f::1")
)

// HostName is the name that resolves, inside the box, to the addresses
// given to WithHostMap.
const HostName = "host.htapod.internal"

// Runner runs commands in boxes. It may run several, one after another or
// at once, unless it has outputs (WithSink, WithReport, WithJSON, WithHAR,
// WithPcap): Run closes them at its end, so such a Runner runs one command.
type Runner struct{ cfg config }

// New returns a Runner.
func New(opts ...Option) *Runner {
	c := config{namespaces: DefaultNamespaces, intercept: true, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, env: os.Environ(),
		logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&c)
	}
	return &Runner{cfg: c}
}

// Status is how the command ended.
type Status struct {
	// Code is the command's exit status, or 128+N when signal N killed
	// it, as a shell reports it; 125 when htapod itself failed.
	Code int
	// Signal is the signal that killed the command, or 0.
	Signal syscall.Signal
}
