//go:build linux

// Linux part of Close's linger: SIOCOUTQ tells when the peer has
// acknowledged everything sent, so Close need not wait for its EOF.

package rustls

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// socketQueues returns how many bytes written to the TCP socket the peer
// has not acknowledged yet (SIOCOUTQ; a FIN sent counts as one) and, with
// in, how many received bytes wait unread in the socket (SIOCINQ); -1 for
// what cannot be told.
func socketQueues(rc syscall.RawConn, in bool) (sent, unread int) {
	sent, unread = -1, -1
	_ = rc.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ); err == nil {
			sent = v
		}
		if in {
			if v, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ); err == nil {
				unread = v
			}
		}
	})
	return sent, unread
}
