package rustls

import "runtime"

// goid returns the calling goroutine's id, read from the first line of its
// stack trace ("goroutine 123 [running]:"). Go offers no other way to tell
// goroutines apart; it is used only to recognise a Stream method called
// from inside one of that Stream's own callbacks (which would otherwise
// wait forever for a lock its own goroutine holds): on callback entry, and
// in a method only while some callback of that connection is running.
// It costs about a microsecond and never returns 0.
func goid() uint64 {
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
