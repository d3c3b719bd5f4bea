//go:build race

package rustls

// Sizes for the race detector, which slows the Go side of the data path
// several times over.
const (
	duplexBytes = 256 << 20 // per direction
	leakConns   = 3000
)
