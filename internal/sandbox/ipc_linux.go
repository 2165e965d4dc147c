package sandbox

import (
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The parent and the child talk over a SOCK_SEQPACKET socketpair, one
// message per step:
//
//	parent → child  spec (JSON)
//	child → parent  "ok" with the TUN fd (SCM_RIGHTS), or "err" + childError
//	parent → child  "go"
//
// After "go" the child execs; the socket is close-on-exec, so the parent
// sees EOF.

const maxMsg = 1 << 20

func socketpair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "htapod-parent"), os.NewFile(uintptr(fds[1]), "htapod-child"), nil
}

func sendJSON(fd int, tag string, v any, rights ...int) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	msg := append([]byte(tag+"\n"), b...)
	var oob []byte
	if len(rights) > 0 {
		oob = unix.UnixRights(rights...)
	}
	return unix.Sendmsg(fd, msg, oob, nil, 0)
}

// recvJSON reads one message; it returns its tag, decodes its body into v
// when v is not nil, and returns any passed fds.
func recvJSON(fd int, v any) (tag string, fds []int, err error) {
	buf := make([]byte, maxMsg)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return "", nil, err
	}
	if n == 0 {
		return "", nil, fmt.Errorf("peer closed")
	}
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return "", nil, fmt.Errorf("parse control message: %w", err)
		}
		for _, m := range msgs {
			r, err := unix.ParseUnixRights(&m)
			if err == nil {
				fds = append(fds, r...)
			}
		}
	}
	body := buf[:n]
	for i, c := range body {
		if c == '\n' {
			tag, body = string(body[:i]), body[i+1:]
			break
		}
	}
	if v != nil && len(body) > 0 {
		if err := json.Unmarshal(body, v); err != nil {
			return tag, fds, fmt.Errorf("decode %s message: %w", tag, err)
		}
	}
	return tag, fds, nil
}
