//go:build !linux

package rustls

import "syscall"

// socketQueues cannot tell elsewhere: Close lingers until the peer's EOF or
// its deadline.
func socketQueues(syscall.RawConn, bool) (sent, unread int) { return -1, -1 }
