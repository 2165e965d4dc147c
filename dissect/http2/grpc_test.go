package http2

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/htapod/htapod/event"
)

// grpcRequest sends the head and the one message of a gRPC request.
func grpcRequest(c *conv, id uint32, method, msg string) {
	c.client.headers(id, false, ":method", "POST", ":scheme", "http", ":authority", "grpc.test:50051",
		":path", method, "content-type", "application/grpc", "te", "trailers", "grpc-timeout", "1S")
	c.client.data(id, true, grpcMsg(msg))
}

// grpcTests are conversations of whole exchanges; the fuzz seeds are made
// of them too.
func grpcTests() []dissectTest {
	msgs := bytes.Join([][]byte{grpcMsg("first"), grpcMsg(""), grpcMsg(string(bytes.Repeat([]byte("x"), 300)))}, nil)
	return []dissectTest{{
		name: "unary",
		build: func(c *conv) {
			c.open()
			grpcRequest(c, 1, "/helloworld.Greeter/SayHello", "request")
			c.server.headers(1, false, ":status", "200", "content-type", "application/grpc+proto")
			reply := grpcMsg("hello world!")
			c.server.data(1, false, reply[:3]) // the prefix spans frames
			c.server.data(1, false, reply[3:])
			c.server.headers(1, true, "grpc-status", "0", "grpc-message", "")
		},
		want: []string{
			"1 request POST http://grpc.test:50051/helloworld.Greeter/SayHello",
			"1 response 200",
			`1 done 200 req=12/12 resp=17/17 resp-trailer=[{grpc-status 0} {grpc-message }] grpc=helloworld.Greeter/SayHello req=[7] resp=[12] status=0 msg=""`,
		},
		check: func(t *testing.T, evs []event.Event) {
			for _, ev := range evs {
				if h := ev.(*event.HTTP); h.Phase != event.PhaseDone && h.GRPC != nil {
					t.Errorf("%s event has GRPC set; want it only on Done", h.Phase)
				}
			}
		},
	}, {
		name: "server streaming",
		build: func(c *conv) {
			grpcRequest(c, 1, "/routeguide.RouteGuide/ListFeatures", "rect")
			c.server.headers(1, false, ":status", "200", "content-type", "application/grpc")
			// Cut the three messages at odd points: inside a prefix,
			// between messages, inside a message.
			stream := msgs
			for _, n := range []int{4, 6, 1, 5, 100} {
				c.server.data(1, false, stream[:n])
				stream = stream[n:]
			}
			c.server.data(1, false, stream)
			c.server.headers(1, true, "grpc-status", "0")
		},
		want: []string{
			"1 request POST http://grpc.test:50051/routeguide.RouteGuide/ListFeatures",
			"1 response 200",
			`1 done 200 req=9/9 resp=320/320 resp-trailer=[{grpc-status 0}] grpc=routeguide.RouteGuide/ListFeatures req=[4] resp=[5 0 300] status=0 msg=""`,
		},
	}, {
		name: "trailers-only status 5",
		build: func(c *conv) {
			grpcRequest(c, 1, "/pkg.v1.Store/Get", "key")
			c.server.headers(1, true, ":status", "200", "content-type", "application/grpc",
				"grpc-status", "5", "grpc-message", "not%20found")
		},
		want: []string{
			"1 request POST http://grpc.test:50051/pkg.v1.Store/Get",
			"1 response 200",
			`1 done 200 req=8/8 resp=0/0 grpc=pkg.v1.Store/Get req=[3] resp=[] status=5 msg="not found"`,
		},
	}, {
		name: "no status",
		build: func(c *conv) {
			grpcRequest(c, 1, "/a.B/C", "x")
			c.server.rst(1, 0x8) // CANCEL
		},
		want: []string{
			"1 request POST http://grpc.test:50051/a.B/C",
			`1 done 0 req=6/6 resp=0/0 grpc=a.B/C req=[1] resp=[] status=-1 msg="" err="stream reset: CANCEL"`,
		},
	}}
}

func TestGRPC(t *testing.T) { runTests(t, grpcTests()) }

func TestPercentDecode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"not%20found", "not found"},
		{"%E2%9C%93 ok", "✓ ok"},
		{"100%", "100%"},
		{"%zz%2", "%zz%2"},
		{"a+b", "a+b"},
	} {
		if got := percentDecode(tc.in); got != tc.want {
			t.Errorf("percentDecode(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestGRPCPath(t *testing.T) {
	for _, tc := range []struct{ path, service, method string }{
		{"/helloworld.Greeter/SayHello", "helloworld.Greeter", "SayHello"},
		{"/a/b/c", "a/b", "c"},
		{"/nomethod", "", ""},
		{"", "", ""},
	} {
		g := newGRPCCall(tc.path)
		if g.service != tc.service || g.method != tc.method {
			t.Errorf("newGRPCCall(%q) = %q, %q; want %q, %q", tc.path, g.service, g.method, tc.service, tc.method)
		}
	}
}

func TestGRPCMsgs(t *testing.T) {
	var m grpcMsgs
	wire := append(grpcMsg("abc"), grpcMsg("")...)
	wire = append(wire, 1, 0, 1, 0, 0) // a 65536-byte compressed message, cut short
	for _, b := range wire {
		m.write([]byte{b})
	}
	if want := []int{3, 0, 65536}; !reflect.DeepEqual(m.sizes, want) {
		t.Errorf("sizes = %v; want %v", m.sizes, want)
	}
}
