package htapod

import "errors"

// Namespaces says which namespaces the box gets.
type Namespaces uint

// Namespaces. The user and network namespaces are what make htapod work
// without root; the mount namespace is how the box gets its own
// resolv.conf and CA bundles.
const (
	UserNamespace Namespaces = 1 << iota
	NetworkNamespace
	MountNamespace
	UTSNamespace
	IPCNamespace

	// DefaultNamespaces are what htapod uses unless told otherwise.
	DefaultNamespaces = UserNamespace | NetworkNamespace | MountNamespace
	// AllNamespaces adds UTS and IPC namespaces (the seed's unshare_all).
	// There is no PID namespace: the command would be PID 1 there, and
	// PID 1 ignores signals it has no handler for, so Ctrl-C would not
	// stop it.
	AllNamespaces = DefaultNamespaces | UTSNamespace | IPCNamespace
)

func (ns Namespaces) validate() error {
	if ns&NetworkNamespace == 0 {
		return errors.New("the network namespace is required: it is where htapod sees the command's traffic")
	}
	return nil
}
