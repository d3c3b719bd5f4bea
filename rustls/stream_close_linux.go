//go:build linux

// Linux part of Close's linger: SIOCOUTQ tells when the peer has
// acknowledged everything sent, so Close need not wait for its EOF.

package rustls

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// sendQueueEmpty reports whether everything written to the TCP socket
// (and its FIN) was acknowledged by the peer (SIOCOUTQ is 0): a reset can
// no longer destroy any of it.
func sendQueueEmpty(rc syscall.RawConn) bool {
	n := -1
	err := rc.Control(func(fd uintptr) {
		v, e := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
		if e == nil {
			n = v
		}
	})
	return err == nil && n == 0
}
