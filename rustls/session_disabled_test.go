package rustls

import (
	"crypto/tls"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSessionTicketsDisabled: a server built with SessionTicketsDisabled
// resumes nobody, for gorustls and crypto/tls clients alike, TLS 1.3 and
// TLS 1.2, and sends a TLS 1.3 client no ticket.
func TestSessionTicketsDisabled(t *testing.T) {
	for _, v := range []uint16{VersionTLS13, VersionTLS12} {
		t.Run(versionName(v), func(t *testing.T) {
			scfg := serverConfig(t, func(o *ServerOptions) { o.Versions = []uint16{v}; o.SessionTicketsDisabled = true })
			ccfg := clientConfig(t, nil)
			_, second := connectTwice(t, scfg, ccfg)
			assertResumed(t, second[0], second[1], false)
			assert.Equal(t, v, second[0].ConnectionState().Version)

			// crypto/tls as the client, with a session cache.
			gcfg := goTLSClientConfig(t)
			gcfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)
			for i := range 2 {
				gc, s := goTLSClientPair(t, scfg, gcfg)
				assert.False(t, gc.ConnectionState().DidResume, "crypto/tls connection %d resumed", i)
				assert.False(t, s.ConnectionState().DidResume)
			}
		})
	}
	// The same server without the option resumes (the control).
	scfg := serverConfig(t, nil)
	_, second := connectTwice(t, scfg, clientConfig(t, nil))
	assertResumed(t, second[0], second[1], true)
}

func TestSessionTicketsDisabledContradictsStore(t *testing.T) {
	_, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{testSrvKey(t)}, SessionTicketsDisabled: true, SessionStore: NewMemorySessionStore(8)})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalidInput)
	assert.Contains(t, err.Error(), "SessionTicketsDisabled")
}

// ServerConfigFromTLS carries SessionTicketsDisabled over.
func TestServerConfigFromTLSSessionTicketsDisabled(t *testing.T) {
	_, srv, _ := pki(t)
	scfg, err := ServerConfigFromTLS(&tls.Config{Certificates: []tls.Certificate{srv.tlsCert(t)}, SessionTicketsDisabled: true}, nil)
	require.NoError(t, err)
	defer scfg.Close()
	_, second := connectTwice(t, scfg, clientConfig(t, nil))
	assertResumed(t, second[0], second[1], false)
}

// goTLSClientPair connects a crypto/tls client to a gorustls server and
// exchanges a message each way (so that a TLS 1.3 client has read any
// ticket the server sent), then closes both.
func goTLSClientPair(t *testing.T, scfg *ServerConfig, gcfg *tls.Config) (*tls.Conn, *Stream) {
	t.Helper()
	cc, sc := tcpPair(t)
	ch := make(chan *Stream, 1)
	go func() {
		s, err := NewAcceptor(scfg, StreamOptions{WriteThrough: true}).Accept(testCtx(t), sc)
		assert.NoError(t, err)
		if s != nil {
			buf := make([]byte, 4)
			if _, err := io.ReadFull(s, buf); assert.NoError(t, err) {
				_, err = s.Write(buf)
				assert.NoError(t, err)
			}
		}
		ch <- s
	}()
	tc := tls.Client(cc, gcfg)
	require.NoError(t, tc.HandshakeContext(testCtx(t)))
	_, err := tc.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(tc, buf)
	require.NoError(t, err)
	s := <-ch
	require.NotNil(t, s)
	t.Cleanup(func() { tc.Close(); s.Close() })
	return tc, s
}

func testSrvKey(t *testing.T) *CertifiedKey {
	_, srv, _ := pki(t)
	return srv.certifiedKey(t)
}
