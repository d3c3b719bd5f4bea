//go:build !race

package rustls

// configChurn is how many configs TestConfigMemory builds and closes.
const configChurn = 10000
