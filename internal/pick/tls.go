package pick

import (
	"errors"
	"io"

	"github.com/htapod/htapod/dissect/tlshello"
)

// IsTLS says whether a client that spoke first with b opens a TLS
// handshake, on any port: the relay then reads its whole ClientHello
// (ReadHello) before it decides how to relay the flow.
func IsTLS(b []byte) bool { return tlshello.Looks(b) }

// ReadHello reads from c, after the first bytes b it already read, until
// they hold a whole ClientHello, at most tlshello.MaxLen bytes. It returns
// the parsed hello (nil with an error when it is not one or the read
// failed) and every byte read, which the relay must pass on.
func ReadHello(c io.Reader, b []byte) (*tlshello.Hello, []byte, error) {
	for {
		h, err := tlshello.Parse(b)
		if !errors.Is(err, tlshello.ErrIncomplete) || len(b) >= tlshello.MaxLen {
			return h, b, err
		}
		buf := make([]byte, 16<<10)
		n, rerr := c.Read(buf)
		b = append(b, buf[:n]...)
		if rerr != nil {
			return nil, b, rerr
		}
	}
}

// Intercept says whether htapod terminates the TLS of a flow whose client
// sent hello: when allowed (the route's action is ForwardWithTLS and an
// interceptor is set) and the server name is not one the user passes
// through (pinned clients; passthrough nil means none). A flow that is
// not intercepted is relayed untouched and read by the ClientHello
// dissector (see Stream).
func Intercept(allowed bool, hello *tlshello.Hello, passthrough func(sni string) bool) bool {
	return allowed && (passthrough == nil || !passthrough(hello.SNI))
}
