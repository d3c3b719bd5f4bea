package rustlshttp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// HTTP1.TLSHandshakeTimeout bounds the handshake, as in net/http, on the
// path that dials before knowing the protocol too.
func TestTransportTLSHandshakeTimeout(t *testing.T) {
	p := newPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() { // accepts, never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	h1 := http.DefaultTransport.(*http.Transport).Clone()
	h1.TLSHandshakeTimeout = 200 * time.Millisecond
	tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
	tr.HTTP1 = h1
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+ln.Addr().String()+"/", nil)
	require.NoError(t, err)
	_, err = tr.RoundTrip(req)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	assert.NoError(t, ctx.Err(), "the request's own deadline ended it")
}
