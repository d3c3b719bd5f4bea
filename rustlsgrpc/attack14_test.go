package rustlsgrpc

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// Attack review 14 (rustlsgrpc): regression tests for what the review
// found. Each test fails (under -race) on the code it was written against.

// TestAttack14OverrideServerNameRace: Credentials are documented "safe for
// concurrent use", but OverrideServerName writes the server name that
// every ClientHandshake (and Clone, Info) reads, with no synchronisation:
// -race reports a data race, and a handshake may verify the server against
// a torn or half-updated name. Expected: no race (an atomic or a mutex),
// or the doc restricting OverrideServerName to before first use.
func TestAttack14OverrideServerNameRace(t *testing.T) {
	e := newEnv(t)
	creds := NewClientCredentials(e.clientConfig(t, e.ca.PEM, nil))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = creds.OverrideServerName([]string{"localhost", "127.0.0.1"}[i%2])
		}
	}()
	for i := 0; i < 20; i++ {
		a, b := net.Pipe()
		b.Close() // the handshake fails at once; only the name read matters
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, _ = creds.ClientHandshake(ctx, "localhost:443", a)
		cancel()
		a.Close()
	}
	close(stop)
	wg.Wait()
}
