package rustls

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func echoListener(t *testing.T) *Listener {
	t.Helper()
	ln, err := Listen("tcp", "127.0.0.1:0", serverConfig(t, nil), StreamOptions{})
	require.NoError(t, err)
	serveEcho(t, ln)
	return ln
}

func TestDialServerNameFromAddress(t *testing.T) {
	ln := echoListener(t)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ccfg := clientConfig(t, nil)
	for _, addr := range []string{ln.Addr().String(), net.JoinHostPort("localhost", port)} {
		s, err := DialContext(testCtx(t), "tcp", addr, ccfg, StreamOptions{})
		require.NoError(t, err, addr)
		echoLine(t, s, "x")
		host, _, _ := net.SplitHostPort(addr)
		assert.Equal(t, host, s.ConnectionState().ServerName)
		s.Close()
	}
}

func TestDialerExplicitServerName(t *testing.T) {
	ln := echoListener(t)
	d := &Dialer{Config: clientConfig(t, nil), ServerName: "example.test", NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	c, err := d.DialContext(testCtx(t), "tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	echoLine(t, c, "named")
	assert.Equal(t, "example.test", c.(*Stream).ConnectionState().ServerName)

	d.ServerName = "wrong.test"
	_, err = d.DialContext(testCtx(t), "tcp", ln.Addr().String())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrCertificate)
}

func TestDialContextBoundsSilentServer(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer inner.Close()
	go func() {
		for {
			c, err := inner.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent: never answers
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = DialContext(ctx, "tcp", inner.Addr().String(), clientConfig(t, nil), StreamOptions{})
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
}

func TestDialErrors(t *testing.T) {
	_, err := Dial("tcp", "127.0.0.1:1", nil, StreamOptions{})
	assert.ErrorIs(t, err, ErrInvalidInput)
	_, err = Dial("tcp", "no-port", clientConfig(t, nil), StreamOptions{})
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, CodeInvalidDNSName, e.Code)
	// Nothing listens on a just-closed port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	_, err = Dial("tcp", addr, clientConfig(t, nil), StreamOptions{})
	assert.ErrorIs(t, err, ErrIO)
}
