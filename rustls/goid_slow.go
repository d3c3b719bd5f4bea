//go:build !((amd64 || arm64) && gc)

package rustls

// goid is goidSlow where getg has no assembly.
func goid() uint64 { return goidSlow() }
