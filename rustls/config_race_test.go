//go:build race

package rustls

// configChurn is how many configs TestConfigMemory builds and closes: fewer
// under the race detector, which slows the Go side several times over.
const configChurn = 2000
