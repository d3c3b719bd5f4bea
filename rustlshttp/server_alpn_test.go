package rustlshttp

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A connection that negotiated a protocol other than h2 and http/1.1 is
// not served as HTTP/1.1 (net/http closes it too), unless NextProto has a
// handler for that protocol.
func TestServerOtherALPNProtocol(t *testing.T) {
	p := newPKI(t)
	for _, withHandler := range []bool{false, true} {
		srv := &Server{Config: p.serverConfig(t, "h2", "http/1.1", "acme-tls/1"), Handler: infoHandler}
		if withHandler {
			srv.NextProto = map[string]func(*rustls.Stream){"acme-tls/1": func(s *rustls.Stream) {
				defer s.Close()
				_, _ = io.WriteString(s, "acme over "+s.ConnectionState().NegotiatedProtocol)
			}}
		}
		_, url := startServer(t, srv)
		s, err := rustls.DialContext(context.Background(), "tcp", strings.TrimPrefix(url, "https://"), p.clientConfig(t, "acme-tls/1"), rustls.StreamOptions{})
		require.NoError(t, err)
		assert.Equal(t, "acme-tls/1", s.ConnectionState().NegotiatedProtocol)
		require.NoError(t, s.SetDeadline(time.Now().Add(10*time.Second)))
		_, _ = io.WriteString(s, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
		got, _ := io.ReadAll(s)
		s.Close()
		if withHandler {
			assert.Equal(t, "acme over acme-tls/1", string(got))
		} else {
			assert.Empty(t, string(got), "served as HTTP/1.1")
		}
	}
}

// A client that negotiated h2 but speaks HTTP/1 is not served (net/http's
// HTTP/2 server refuses the missing preface).
func TestServerH2WithoutPreface(t *testing.T) {
	p := newPKI(t)
	_, url := startServer(t, &Server{Config: p.serverConfig(t, "h2", "http/1.1"), Handler: infoHandler})
	s, err := rustls.DialContext(context.Background(), "tcp", strings.TrimPrefix(url, "https://"), p.clientConfig(t, "h2"), rustls.StreamOptions{})
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, "h2", s.ConnectionState().NegotiatedProtocol)
	require.NoError(t, s.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(s, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
	require.NoError(t, err)
	got, _ := io.ReadAll(s)
	assert.NotContains(t, string(got), "200 OK")
}
