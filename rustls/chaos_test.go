package rustls

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// chaosHardLimit ends a TestChaos that hangs outside the scenarios'
// watchdogs, with every stack, well before go test's own timeout.
const chaosHardLimit = 8 * time.Minute

// TestChaos proves that the failure classes gorustls guards against
// (use-after-free, escaped panics, deadlocks, lost or invented bytes,
// untyped errors, leaks) do not appear when everything goes wrong at once:
// many goroutines on the same streams, keys rotated and closed under
// GetCertificate, configs closed while connections are made from them,
// callbacks that panic, and peers that reset or stall (see the scenarios'
// comments). Each scenario checks afterwards that goroutines, file
// descriptors, C connections and key-log slots are back to their baseline.
//
// The run is random but replayable: the seed is logged, and
// GORUSTLS_CHAOS_SEED replays it; GORUSTLS_CHAOS_SCALE scales the number of
// connections (-short and ASan builds run a quarter).
func TestChaos(t *testing.T) {
	seed, scale := chaosSettings(t)
	t.Logf("chaos seed %d, scale %v (%s=%d %s=%v to replay)", seed, scale, chaosSeedEnv, seed, chaosScaleEnv, scale)
	guard := time.AfterFunc(chaosHardLimit, func() {
		fmt.Fprintf(os.Stderr, "TestChaos still running after %v (seed %d); all goroutines:\n%s", chaosHardLimit, seed, allStacks())
		panic("TestChaos exceeded its hard limit")
	})
	defer guard.Stop()

	// Warm up what is made once per process (the network poller, buffer
	// pools, the crypto provider's entropy) before any baseline is taken.
	mustPair(t, serverConfig(t, nil), clientConfig(t, nil))

	scenario := func(name string, salt uint64, f func(*chaosRun)) {
		t.Run(name, func(t *testing.T) {
			r := newChaosRun(t, seed, scale, salt)
			base := takeChaosBaseline(t)
			start := time.Now()
			f(r)
			r.report()
			r.checkBaseline(base)
			t.Logf("%s: %v", name, time.Since(start).Round(time.Millisecond))
		})
	}
	for i, kind := range streamKinds {
		scenario("streams/"+kind, uint64(10+i), func(r *chaosRun) { r.chaosStreams(kind) })
	}
	scenario("deadline-accounting", 20, (*chaosRun).chaosDeadlineAccounting)
	scenario("close-with-unread-input", 21, (*chaosRun).chaosCloseUnread)
	scenario("key-rotation", 30, (*chaosRun).chaosRotation)
	scenario("config-close", 31, (*chaosRun).chaosConfigClose)
	scenario("callback-panics", 32, (*chaosRun).chaosCallbacks)
	scenario("listeners", 40, (*chaosRun).chaosListeners)
}
