// Package e2e holds htapod's end-to-end tests: real clients (curl, wget,
// python3, node, dig, socat, nc) run through htapod, as an unprivileged user,
// against real servers inside a sealed lab (internal/lab), and each test
// checks both what the client got and what htapod reported.
//
// WebSocket with permessage-deflate is checked with two real clients
// against the lab's echo server: Python's websockets (TestWebSocketDeflate)
// and Node's ws (TestWebSocketDeflateNode: server_no_context_takeover, a
// 10-bit client window, a fragmented and a binary message), which
// scripts/test-setup.sh installs from Debian's node-ws package.
//
// The tests need root to build the lab and skip without it. Run them with
// `sudo make test`, or, on a prepared machine, `sudo go test ./e2e/`. Set
// HTAPOD_BIN to test a binary other than a fresh build of ./cmd/htapod.
package e2e
