package main

import (
	"io"
	"net"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `gorustls serve` logs through slog's text handler on stderr: one
// readable key=value line per event, a client's failed handshake with its
// address and error.
func TestServeLogsStructuredLines(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	srv := startServe(t, "-write-ca", ca, "-mode", "echo")
	c, err := net.Dial("tcp", srv.addr)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, c)
	local := c.LocalAddr().String()
	c.Close()
	require.Eventually(t, func() bool { return regexp.MustCompile(`remote=` + regexp.QuoteMeta(local)).MatchString(srv.log()) },
		10*time.Second, 10*time.Millisecond, srv.log())
	assert.Equal(t, 0, srv.stop(t))
	log := srv.log()
	assert.Regexp(t, `(?m)^time=\S+ level=INFO msg=listening addr=127\.0\.0\.1:\d+ mode=echo$`, log)
	assert.Regexp(t, `(?m)^time=\S+ level=INFO msg="gorustls: TLS handshake failed" remote=`+regexp.QuoteMeta(local)+` error=".+"$`, log)
}
