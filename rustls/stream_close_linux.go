//go:build linux

package rustls

import (
	"syscall"
	"unsafe"
)

// sendQueueEmpty reports whether everything written to the TCP socket
// (and its FIN) was acknowledged by the peer (SIOCOUTQ is 0): a reset can
// no longer destroy any of it.
func sendQueueEmpty(rc syscall.RawConn) bool {
	var n int32 = -1
	err := rc.Control(func(fd uintptr) {
		_, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n)))
		if e != 0 {
			n = -1
		}
	})
	return err == nil && n == 0
}
