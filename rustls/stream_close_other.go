//go:build !linux

package rustls

import "syscall"

// sendQueueEmpty cannot tell elsewhere: Close lingers until the peer's EOF
// or its deadline.
func sendQueueEmpty(syscall.RawConn) bool { return false }
