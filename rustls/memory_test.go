package rustls

import (
	"crypto/tls"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rssBytes reads the process's resident set size from /proc/self/statm, so
// that C allocations (librustls) count as well as the Go heap.
func rssBytes(t testing.TB) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	require.NoError(t, err)
	f := strings.Fields(string(b))
	require.GreaterOrEqual(t, len(f), 2)
	pages, err := strconv.ParseUint(f[1], 10, 64)
	require.NoError(t, err)
	return pages * uint64(os.Getpagesize())
}

// settle collects garbage (running cleanups) and returns memory to the OS.
func settle() {
	for i := 0; i < 3; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond) // let cleanups run
	}
	debug.FreeOSMemory()
}

// TestConfigMemory builds and closes configChurn configs of every kind
// (servers with keys and client auth, clients with roots, client
// certificates and CRLs, restricted providers, key logs, failed builds,
// and some dropped without Close) and checks that neither the process's
// resident memory nor the Go heap grows with them. The inputs are made
// large on purpose (a 24-certificate root bundle, a long chain) so that
// leaking any C object per config would show as megabytes.
func TestConfigMemory(t *testing.T) {
	ca, srv, cli := pki(t)
	var bundle []byte
	for i := 0; i < 23; i++ {
		bundle = append(bundle, newTestCA(t, "bundle CA "+strconv.Itoa(i)).certPEM...)
	}
	bundle = append(bundle, ca.certPEM...)
	longChain := append([]byte(nil), srv.certPEM...)
	for i := 0; i < 8; i++ {
		longChain = append(longChain, ca.certPEM...)
	}
	crl := ca.crl(t)
	clientKey := cli.certifiedKey(t)
	rootsFile := writeTemp(t, "bundle.pem", bundle)
	baseSlots := settledFreeKeylogSlots()

	churn := func(n int) {
		for i := 0; i < n; i++ {
			switch i % 8 {
			case 0, 4:
				k, err := NewCertifiedKey(longChain, srv.keyPEM)
				require.NoError(t, err)
				cfg, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{k}, NextProtos: []string{"h2", "http/1.1"},
					ClientAuth: VerifyClientCertIfGiven, ClientCAs: bundle, ClientCRLs: [][]byte{crl}})
				require.NoError(t, err)
				k.Close()
				cfg.Close()
			case 1:
				cfg, err := NewClientConfig(ClientOptions{RootCAs: bundle, NextProtos: []string{"h2"}, Certificate: clientKey,
					CRLs: [][]byte{crl}})
				require.NoError(t, err)
				cfg.Close()
			case 2:
				cfg, err := NewClientConfig(ClientOptions{RootCAFiles: []string{rootsFile}, KeyLogWriter: io.Discard,
					CipherSuites: []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
				require.NoError(t, err)
				cfg.Close()
			case 3:
				k, err := NewCertifiedKey(longChain, srv.keyPEM)
				require.NoError(t, err)
				cfg, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{k}, KeyLogWriter: io.Discard,
					Versions: []uint16{VersionTLS13}, CipherSuites: []uint16{tls.TLS_AES_256_GCM_SHA384}, SessionStore: NewMemorySessionStore(4)})
				require.NoError(t, err)
				k.Close()
				cfg.Close()
			case 5:
				// Failed builds, in Go and in C.
				_, err := NewCertifiedKey(longChain, cli.keyPEM)
				require.Error(t, err)
				_, err = NewClientConfig(ClientOptions{RootCAs: bundle, ECHConfigList: []byte{0, 3, 1, 2, 3}, KeyLogWriter: io.Discard})
				require.Error(t, err)
				_, err = NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{clientKey}, ClientAuth: RequireAndVerifyClientCert,
					ClientCAs: []byte("junk")})
				require.Error(t, err)
			case 6:
				cfg, err := NewClientConfig(ClientOptions{RootCAs: bundle, ECHGrease: true})
				if !echAvailable() {
					require.Error(t, err) // ring: no HPKE suites
					break
				}
				require.NoError(t, err)
				cfg.Close()
			case 7:
				// Dropped without Close: the cleanups must free them.
				k, err := NewCertifiedKey(longChain, srv.keyPEM)
				require.NoError(t, err)
				_, err = NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{k}, KeyLogWriter: io.Discard})
				require.NoError(t, err)
				_, err = NewClientConfig(ClientOptions{RootCAs: bundle})
				require.NoError(t, err)
				if i%64 == 7 {
					runtime.GC() // keep the dropped key-log configs under the slot limit
				}
			}
		}
	}

	churn(400) // warm-up: allocator caches, pools, lazily built tables
	settle()
	rss0 := rssBytes(t)
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)

	start := time.Now()
	churn(configChurn)
	elapsed := time.Since(start)
	settle()
	rss1 := rssBytes(t)
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)

	growth := int64(rss1) - int64(rss0)
	heapGrowth := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
	t.Logf("%d configs in %v: RSS %d KiB -> %d KiB (%+d KiB), Go heap %+d KiB, heap objects %d -> %d",
		configChurn, elapsed.Round(time.Millisecond), rss0>>10, rss1>>10, growth>>10, heapGrowth>>10, m0.HeapObjects, m1.HeapObjects)
	assert.Less(t, growth, int64(20<<20), "resident memory grew with the configs")
	assert.Less(t, heapGrowth, int64(4<<20), "the Go heap grew with the configs")
	// Other tests' dropped configs may give slots back meanwhile: at least
	// as many are free as before.
	require.Eventually(t, func() bool { runtime.GC(); return freeKeylogSlots() >= baseSlots },
		10*time.Second, 10*time.Millisecond, "every key-log slot is given back")
}
