//go:build race

package rustls

// leakConns is how many connections TestStreamLeaks opens. 10,000 take
// 20-50 s under the race detector on 2 cores; half keeps the race run short.
const leakConns = 5000
