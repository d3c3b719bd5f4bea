package rustls

import (
	"crypto/tls"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSmokeRustlsToRustls(t *testing.T) {
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
	_, err := c.Write([]byte("hello"))
	require.NoError(t, err)
	require.NoError(t, c.Flush())
	buf := make([]byte, 5)
	_, err = io.ReadFull(s, buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf))
	st := c.ConnectionState()
	assert.Equal(t, uint16(tls.VersionTLS13), st.Version)
	assert.NotEmpty(t, st.PeerCertificates)
	t.Logf("version %x suite %s group %s", st.Version, c.CipherSuiteName(), c.KeyExchangeGroup())
	require.NoError(t, c.Close())
	_, err = s.Read(buf)
	assert.Equal(t, io.EOF, err)
}
