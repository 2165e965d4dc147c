// Command labclient is the lab's own Go client, for the end-to-end tests
// of what no Debian package does. It trusts what Go trusts by default: the
// system roots, or SSL_CERT_FILE and SSL_CERT_DIR. Every command gives up
// after 20 seconds.
//
//	labclient get URL                   GET with net/http; the body to stdout
//	labclient grpc [-tls] ADDR SERVICE  a gRPC health check of SERVICE at ADDR
//	labclient ws URL MESSAGE            a WebSocket session: send MESSAGE as
//	                                    text, print the echo, close 1000 "bye"
//
// It exits 0 on success, 1 on a failure (said on stderr) and 2 on bad
// usage. grpc prints the serving status, or "code: message" of a failed
// call and exits 3.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

const usage = `usage:
  labclient get URL
  labclient grpc [-tls] ADDR SERVICE
  labclient ws URL MESSAGE
`

// errUsage is returned for a command line that labclient does not know.
var errUsage = errors.New("bad usage")

// errCall is a gRPC call that the server failed; its status is printed.
var errCall = errors.New("call failed")

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	err := run(ctx, os.Args[1:])
	cancel()
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	case errors.Is(err, errCall):
		os.Exit(3)
	default:
		fmt.Fprintf(os.Stderr, "labclient: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	switch {
	case len(args) == 2 && args[0] == "get":
		return get(ctx, args[1])
	case len(args) == 3 && args[0] == "grpc":
		return grpcHealth(ctx, args[1], args[2], false)
	case len(args) == 4 && args[0] == "grpc" && args[1] == "-tls":
		return grpcHealth(ctx, args[2], args[3], true)
	case len(args) == 3 && args[0] == "ws":
		return ws(ctx, args[1], args[2])
	}
	return errUsage
}

// get fetches url with net/http's default transport (HTTP/2 over TLS when
// the server offers it) and copies the body to stdout.
func get(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	fmt.Fprintf(os.Stderr, "labclient: %s %s\n", resp.Proto, resp.Status)
	return nil
}

// grpcHealth calls grpc.health.v1.Health/Check for service at addr.
func grpcHealth(ctx context.Context, addr, service string, useTLS bool) error {
	creds := insecure.NewCredentials()
	if useTLS {
		creds = credentials.NewTLS(&tls.Config{})
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		st, ok := status.FromError(err)
		if !ok {
			return err
		}
		fmt.Printf("%s: %s\n", st.Code(), st.Message())
		return errCall
	}
	fmt.Println(resp.GetStatus())
	return nil
}

// ws opens a WebSocket to url over HTTP/1.1, sends msg as a text message,
// prints the message that comes back and closes with 1000 "bye".
func ws(ctx context.Context, url, msg string) error {
	// A transport of its own, without HTTP/2: the upgrade needs HTTP/1.1.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{NextProtos: []string{"http/1.1"}}}}
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:      client,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return err
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	_, data, err := c.Read(ctx)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	fmt.Printf("%s\n", data)
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}
