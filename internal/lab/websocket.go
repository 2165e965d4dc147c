package lab

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// Ports of the lab's WebSocket echo servers on WWW4 (StartWebSocket).
const (
	// PortWS serves ws://www.lab.test:8080/echo.
	PortWS = 8080
	// PortWSS serves wss://www.lab.test:8444/echo with PKI.Server.
	PortWSS = 8444
	// PortWSDeflate serves ws://www.lab.test:8081/echo with
	// permessage-deflate (StartWebSocketDeflate).
	PortWSDeflate = 8081
)

// WebSocketEcho returns a handler that accepts a WebSocket on any path and
// sends every message back as it came, text as text and binary as binary,
// without compression, until the client closes; the close frame is
// answered with the client's own code and reason. A session lasts at most
// 30 seconds.
func WebSocketEcho() http.Handler {
	return webSocketEcho(&websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
}

// WebSocketEchoDeflate is WebSocketEcho with permessage-deflate (RFC 7692)
// when the client offers it: context takeover both ways unless the client
// asks otherwise, every message compressed however short.
func WebSocketEchoDeflate() http.Handler {
	return webSocketEcho(&websocket.AcceptOptions{CompressionMode: websocket.CompressionContextTakeover, CompressionThreshold: 1})
}

func webSocketEcho(opts *websocket.AcceptOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return // Accept has answered the request
		}
		defer c.CloseNow()
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return // a close frame, answered by the library, or an error
			}
			if err := c.Write(ctx, typ, data); err != nil {
				return
			}
		}
	})
}

// StartWebSocket runs the WebSocket echo server on WWW4: plain on PortWS
// and over TLS (PKI.Server) on PortWSS.
func (l *Lab) StartWebSocket() {
	l.tb.Helper()
	l.ServeHTTP(net.JoinHostPort(WWW4, strconv.Itoa(PortWS)), WebSocketEcho())
	l.ServeHTTPS(net.JoinHostPort(WWW4, strconv.Itoa(PortWSS)), l.PKI().Server, WebSocketEcho())
}

// StartWebSocketDeflate runs the echo server with permessage-deflate on
// WWW4, port PortWSDeflate.
func (l *Lab) StartWebSocketDeflate() {
	l.tb.Helper()
	l.ServeHTTP(net.JoinHostPort(WWW4, strconv.Itoa(PortWSDeflate)), WebSocketEchoDeflate())
}
