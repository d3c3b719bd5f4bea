package main

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeHasCipherOrder: `gorustls serve` picks the cipher suite by its
// own order, whatever the client prefers (crypto/tls clients list
// AES-128-GCM or ChaCha20 first), so TLS scanners find a server order.
func TestServeHasCipherOrder(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	srv := startServe(t, "-write-ca", ca)
	pool, err := readPool(ca)
	require.NoError(t, err)
	for _, tc := range []struct {
		version uint16
		suites  []uint16
		want    uint16
	}{
		{tls.VersionTLS13, nil, tls.TLS_AES_256_GCM_SHA384},
		{tls.VersionTLS12, nil, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
		{tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
	} {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 20 * time.Second}, "tcp", srv.addr, &tls.Config{RootCAs: pool, ServerName: "localhost",
			MinVersion: tc.version, MaxVersion: tc.version, CipherSuites: tc.suites})
		require.NoError(t, err)
		assert.Equal(t, tls.CipherSuiteName(tc.want), tls.CipherSuiteName(c.ConnectionState().CipherSuite))
		c.Close()
	}
	assert.Equal(t, 0, srv.stop(t))
}
