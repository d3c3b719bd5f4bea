//go:build !race

package rustls

// leakConns is how many connections TestStreamLeaks opens (about 6 s).
const leakConns = 10000
