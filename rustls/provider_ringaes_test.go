package rustls

import (
	"crypto/tls"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRingAESGCMAvailableInBundledBuild: the bundled aws-lc-rs librustls
// carries ring, and its rustls.pc says so (build/librustls.sh); make runs
// the tests with it.
func TestRingAESGCMAvailableInBundledBuild(t *testing.T) {
	out, err := exec.Command("pkg-config", "--cflags", "rustls").Output()
	if err != nil || !strings.Contains(string(out), "GORUSTLS_LIBRUSTLS_HAS_RING") {
		t.Skip("not linked against the bundled aws-lc-rs librustls")
	}
	assert.True(t, RingAESGCMAvailable())
}

func TestRingAESGCMProviderSuites(t *testing.T) {
	p, err := RingAESGCMProvider()
	if !RingAESGCMAvailable() {
		// A librustls with one provider (PROVIDER=ring, a system install).
		e := rustlsError(t, err)
		assert.Contains(t, e.Error(), "both aws-lc-rs and ring")
		return
	}
	require.NoError(t, err)
	defer p.Close()
	def, err := CipherSuites()
	require.NoError(t, err)
	assert.Equal(t, def, p.CipherSuites(), "same suites, names and order as the default provider")
	assert.False(t, p.FIPS())
	// Restricting it works as for any provider.
	only, err := p.WithCipherSuites(tls.TLS_AES_128_GCM_SHA256)
	require.NoError(t, err)
	defer only.Close()
	require.Len(t, only.CipherSuites(), 1)
}

// TestRingAESGCMProviderInterop runs every AES-GCM suite of the mixed
// provider against crypto/tls in both roles and against the default
// provider, with data both ways.
func TestRingAESGCMProviderInterop(t *testing.T) {
	if !RingAESGCMAvailable() {
		t.Skip("librustls carries one provider only: TestRingAESGCMProviderSuites checks the error")
	}
	p, err := RingAESGCMProvider()
	require.NoError(t, err)
	defer p.Close()
	for _, tc := range []struct {
		name    string
		version uint16
		suite   uint16
	}{
		{"TLS13-AES128", tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256},
		{"TLS13-AES256", tls.VersionTLS13, tls.TLS_AES_256_GCM_SHA384},
		{"TLS12-AES128", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		{"TLS12-AES256", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mixedServer := serverConfig(t, func(o *ServerOptions) {
				o.Provider = p
				o.Versions = []uint16{tc.version}
				o.CipherSuites = []uint16{tc.suite}
			})
			mixedClient := clientConfig(t, func(o *ClientOptions) {
				o.Provider = p
				o.Versions = []uint16{tc.version}
				o.CipherSuites = []uint16{tc.suite}
			})
			check := func(t *testing.T, st tls.ConnectionState) {
				assert.Equal(t, tc.version, st.Version)
				assert.Equal(t, tc.suite, st.CipherSuite)
				if tc.version == tls.VersionTLS13 {
					assert.Equal(t, tls.X25519MLKEM768, st.CurveID, "key exchange stays aws-lc-rs's")
				}
			}

			t.Run("crypto/tls client", func(t *testing.T) {
				cc, sc := tcpPair(t)
				ch := make(chan *Stream, 1)
				go func() {
					s, err := NewAcceptor(mixedServer, StreamOptions{}).Accept(testCtx(t), sc)
					assert.NoError(t, err)
					ch <- s
					if s != nil {
						echoStream(s)
					}
				}()
				gc := goTLSClientConfig(t)
				gc.MinVersion, gc.MaxVersion = tc.version, tc.version
				if tc.version == tls.VersionTLS12 {
					gc.CipherSuites = []uint16{tc.suite}
				}
				c := tls.Client(cc, gc)
				require.NoError(t, c.HandshakeContext(testCtx(t)))
				defer c.Close()
				s := <-ch
				require.NotNil(t, s)
				defer s.Close()
				check(t, c.ConnectionState())
				check(t, s.ConnectionState())
				echoRoundTrip(t, c, nil, 1<<20)
			})
			t.Run("crypto/tls server", func(t *testing.T) {
				gs := goTLSServerConfig(t)
				gs.MinVersion, gs.MaxVersion = tc.version, tc.version
				if tc.version == tls.VersionTLS12 {
					gs.CipherSuites = []uint16{tc.suite}
				}
				cc, sc := tcpPair(t)
				res := goTLSServe(sc, gs)
				c, err := NewConnector(mixedClient, StreamOptions{}).Connect(testCtx(t), cc, "localhost")
				require.NoError(t, err)
				defer c.Close()
				r := <-res
				require.NoError(t, r.err)
				defer r.c.Close()
				go func() { _, _ = io.Copy(r.c, r.c) }()
				check(t, c.ConnectionState())
				echoRoundTrip(t, c, c.Flush, 1<<20)
			})
			t.Run("default provider peer", func(t *testing.T) {
				c, s := rustlsPair(t, serverConfig(t, nil), mixedClient, StreamOptions{}, StreamOptions{})
				check(t, c.ConnectionState())
				go echoStream(s)
				echoRoundTrip(t, c, c.Flush, 1<<20)
			})
		})
	}
}
