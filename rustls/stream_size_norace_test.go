//go:build !race

package rustls

// Sizes for normal runs.
const (
	duplexBytes = 1 << 30 // per direction
	leakConns   = 10000
)
