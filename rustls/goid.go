package rustls

import "runtime"

// goid returns a number that tells the calling goroutine apart from every
// other goroutine alive (never 0). It is used only to recognise a Stream
// method called from inside one of that Stream's own callbacks (which
// would otherwise wait forever for a lock its own goroutine holds): on
// callback entry, and in a method only while some callback of that
// connection is running. Where the platform allows (goid_fast.go) it is
// the address of the goroutine's runtime descriptor, read in a few
// instructions; elsewhere it is parsed from the goroutine's stack trace
// (goidSlow), which costs microseconds.

// goidSlow returns the calling goroutine's id, read from the first line of
// its stack trace ("goroutine 123 [running]:"). Go offers no other portable
// way to tell goroutines apart.
func goidSlow() uint64 {
	var buf [32]byte
	n := runtime.Stack(buf[:], false)
	b := buf[:n]
	const prefix = "goroutine "
	if len(b) < len(prefix) {
		return ^uint64(0)
	}
	var id uint64
	for _, c := range b[len(prefix):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	if id == 0 {
		return ^uint64(0)
	}
	return id
}
