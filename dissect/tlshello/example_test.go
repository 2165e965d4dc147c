package tlshello_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/htapod/htapod/dissect/tlshello"
)

// The interceptor reads the client's first bytes until Parse decides.
func ExampleParse() {
	s, err := os.ReadFile("testdata/client-tls13.hex")
	if err != nil {
		panic(err)
	}
	stream, _ := hex.DecodeString(strings.Join(strings.Fields(string(s)), ""))

	var seen []byte
	for _, piece := range [][]byte{stream[:100], stream[100:]} {
		seen = append(seen, piece...)
		h, err := tlshello.Parse(seen)
		if errors.Is(err, tlshello.ErrIncomplete) {
			fmt.Println("need more bytes")
			continue
		}
		if err != nil {
			panic(err)
		}
		fmt.Println(h.SNI, h.ALPN, h.Len == len(stream))
	}
	// Output:
	// need more bytes
	// lab.test [h2 http/1.1] true
}

func ExampleLooks() {
	fmt.Println(tlshello.Looks([]byte{0x16, 0x03, 0x01, 0x02, 0x00}))
	fmt.Println(tlshello.Looks([]byte("GET / HTTP/1.1\r\n")))
	// Output:
	// true
	// false
}
