//go:build unix

package rustls

import "golang.org/x/sys/unix"

// syscallNoFollow refuses a symbolic link as the last path component;
// syscallNonBlock makes opening a FIFO with no reader fail (ENXIO) instead
// of waiting for one (Go's os package runs FIFOs non-blocking through its
// poller anyway; regular files ignore the flag).
const (
	syscallNoFollow = unix.O_NOFOLLOW
	syscallNonBlock = unix.O_NONBLOCK
)
