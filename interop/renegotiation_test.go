package interop

import (
	"bufio"
	"io"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/require"
)

// TestRenegotiation: rustls never renegotiates. A TLS 1.2 peer that asks
// (openssl's "R" command: a ClientHello from the client, a HelloRequest
// from the server) is refused, and the gorustls side neither hangs nor
// fails with an untyped error.
func TestRenegotiation(t *testing.T) {
	cell(t, "openssl s_client", "server", "TLS 1.2 renegotiation attempt (client R) -> refused", func(t *testing.T) {
		srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), echoLines)
		p := sClient(t, srv.port, sslOpts{version: "1.2"}, true)
		p.send("before\n")
		p.requireOut("before\n")
		p.send("R\n")
		p.requireOut("RENEGOTIATING")
		p.requireExit(false) // s_client gives up: the server said no_renegotiation
		require.Contains(t, p.out.String(), "no renegotiation")
		r := srv.next(t)
		require.NoError(t, r.err)
		t.Logf("server stream ended with %v; s_client: %s", r.end, tail(p.out.String(), 300))
		if r.end != io.EOF {
			requireCode(t, r.end, codeAlertNoRenegotiation, rustls.CodeAlertHandshakeFailure, rustls.CodeUnexpectedEOF, rustls.CodeInappropriateHandshake)
		}
	})
	cell(t, "openssl s_server", "client", "TLS 1.2 renegotiation request (HelloRequest) -> refused", func(t *testing.T) {
		p, addr := sServer(t, pk.servers["p256"], "", sslOpts{version: "1.2"}, true)
		s, err := dial(t, clientCfg(t, nil), addr, "localhost")
		require.NoError(t, err)
		p.requireOut("CIPHER is")
		p.send("R\n")
		time.Sleep(300 * time.Millisecond)
		p.send("after\n")
		br := bufio.NewReader(s)
		line, err := br.ReadString('\n')
		t.Logf("client read %q, %v; s_server: %s", line, err, tail(p.out.String(), 400))
		if err == nil {
			require.Equal(t, "after\n", line)
		} else {
			requireCode(t, err, codeAlertNoRenegotiation, rustls.CodeAlertHandshakeFailure, rustls.CodeUnexpectedEOF)
		}
	})
}

// codeAlertNoRenegotiation is rustls-ffi's code for a received
// no_renegotiation alert (100); gorustls names no constant for it.
const codeAlertNoRenegotiation rustls.Code = 7224
