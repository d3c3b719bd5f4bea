package rustlsgrpc

import (
	"net"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A GetCertificate that never returns does not hold ServerHandshake (and
// its goroutine) forever: the handshake as a whole is bounded, not only
// its I/O.
func TestServerHandshakeBoundsStuckCallback(t *testing.T) {
	old := serverHandshakeTimeout
	serverHandshakeTimeout = 500 * time.Millisecond
	defer func() { serverHandshakeTimeout = old }()

	e := newEnv(t)
	release := make(chan struct{})
	defer close(release)
	cfg, err := rustls.NewServerConfig(rustls.ServerOptions{
		NextProtos: []string{"h2"},
		GetCertificate: func(*rustls.ClientHello) (*rustls.CertifiedKey, error) {
			<-release // stuck until the test ends
			return nil, nil
		},
	})
	require.NoError(t, err)
	defer cfg.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		ccfg := e.clientConfig(t, e.ca.PEM, nil)
		_, _ = rustls.NewConnector(ccfg, rustls.StreamOptions{}).Connect(ctxT(t), c, "localhost")
	}()
	raw, err := ln.Accept()
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, _, err := NewServerCredentials(cfg).ServerHandshake(raw)
		done <- err
	}()
	select {
	case err := <-done:
		assert.Error(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("ServerHandshake still waits for a stuck GetCertificate")
	}
}
