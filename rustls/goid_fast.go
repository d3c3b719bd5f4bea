//go:build (amd64 || arm64) && gc

package rustls

// getg returns the address of the calling goroutine's runtime descriptor
// (goid_amd64.s, goid_arm64.s). The runtime keeps a goroutine's
// descriptor at one address for the goroutine's whole life and gives it
// to no other goroutine meanwhile (it may reuse it once the goroutine has
// exited), and a cgo callback runs on the descriptor of the goroutine that
// made the C call: what goid needs. It is only compared, never
// dereferenced.
func getg() uintptr

// goid returns getg's address: a few instructions instead of a stack
// trace (the handshake marks every callback it runs with it).
func goid() uint64 { return uint64(getg()) }
