package interop

import (
	"bufio"
	"io"
	"testing"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoExchange checks a gnutls-serv --echo round trip.
func echoExchange(t testing.TB, s *rustls.Stream) {
	t.Helper()
	br := bufio.NewReader(s)
	for _, line := range []string{"hello\n", "interop\n"} {
		_, err := io.WriteString(s, line)
		require.NoError(t, err)
		got, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, line, got)
	}
}

func TestClientGnuTLS(t *testing.T) {
	const peerName, role = "gnutls-serv", "client"
	for _, c := range []struct {
		v, prio string
		kts     []string
	}{
		{"1.2", prioTLS12, []string{"p256", "rsa2048", "ed25519"}},
		{"1.3", prioTLS13, []string{"p256", "p384", "rsa4096", "ed25519"}},
	} {
		for _, kt := range c.kts {
			cell(t, peerName, role, "TLS "+c.v+" "+kt+" certificate", func(t *testing.T) {
				_, addr := gnutlsServ(t, pk.servers[kt], c.prio)
				s, err := dial(t, clientCfg(t, nil), addr, "localhost")
				require.NoError(t, err)
				echoExchange(t, s)
				assert.Equal(t, versionOf[c.v], s.ConnectionState().Version)
			})
		}
	}
	for _, c := range []struct {
		name, prio string
		id         uint16
	}{
		{"TLS 1.3 suite CHACHA20-POLY1305", prioChaCha13, 0x1303},
		{"TLS 1.2 suite ECDHE-ECDSA-CHACHA20-POLY1305", prioChaCha12, 0xcca9},
		{"TLS 1.3 suite AES-128-GCM", prioAES12813, 0x1301},
	} {
		cell(t, peerName, role, c.name, func(t *testing.T) {
			_, addr := gnutlsServ(t, pk.servers["p256"], c.prio)
			s, err := dial(t, clientCfg(t, nil), addr, "localhost")
			require.NoError(t, err)
			echoExchange(t, s)
			assert.Equal(t, c.id, s.ConnectionState().CipherSuite)
		})
	}
	cell(t, peerName, role, "ALPN h2", func(t *testing.T) {
		_, addr := gnutlsServ(t, pk.servers["p256"], "", "--alpn", "h2", "--alpn", "http/1.1")
		s, err := dial(t, clientCfg(t, func(o *rustls.ClientOptions) { o.NextProtos = []string{"h2"} }), addr, "localhost")
		require.NoError(t, err)
		echoExchange(t, s)
		assert.Equal(t, "h2", s.ConnectionState().NegotiatedProtocol)
	})
	cell(t, peerName, role, "ALPN no overlap (--alpn-fatal) -> no_application_protocol alert", func(t *testing.T) {
		_, addr := gnutlsServ(t, pk.servers["p256"], "", "--alpn", "h2", "--alpn-fatal")
		_, err := dial(t, clientCfg(t, func(o *rustls.ClientOptions) { o.NextProtos = []string{"spdy/1"} }), addr, "localhost")
		requireCode(t, err, rustls.CodeAlertNoApplicationProto)
	})
	cell(t, peerName, role, "mTLS required, certificate given", func(t *testing.T) {
		_, addr := gnutlsServ(t, pk.servers["p256"], "", "--require-client-cert", "--x509cafile", pk.ca.file)
		s, err := dial(t, clientCfg(t, func(o *rustls.ClientOptions) { o.Certificate = certKey(t, pk.client) }), addr, "localhost")
		require.NoError(t, err)
		echoExchange(t, s)
	})
	cell(t, peerName, role, "mTLS required, no certificate -> refused", func(t *testing.T) {
		_, addr := gnutlsServ(t, pk.servers["p256"], prioTLS13, "--require-client-cert", "--x509cafile", pk.ca.file)
		s, err := dial(t, clientCfg(t, nil), addr, "localhost")
		if err == nil {
			_, err = s.Read(make([]byte, 1))
		}
		requireCode(t, err, rustls.CodeAlertCertificateRequired, rustls.CodeAlertHandshakeFailure)
	})
	for _, c := range []struct{ v, prio string }{{"1.2", prioTLS12}, {"1.3", prioTLS13}} {
		cell(t, peerName, role, "TLS "+c.v+" session resumption", func(t *testing.T) {
			_, addr := gnutlsServ(t, pk.servers["p256"], c.prio)
			ccfg := clientCfg(t, nil)
			for i, kind := range []rustls.HandshakeKind{rustls.HandshakeFull, rustls.HandshakeResumed} {
				s, err := dial(t, ccfg, addr, "localhost")
				require.NoError(t, err)
				echoExchange(t, s)
				assert.Equal(t, kind, s.HandshakeKind(), "connection %d", i)
				require.NoError(t, s.Close())
			}
		})
	}
	cell(t, peerName, role, "TLS 1.3 key update (client KeyUpdate)", func(t *testing.T) {
		_, addr := gnutlsServ(t, pk.servers["p256"], prioTLS13)
		s, err := dial(t, clientCfg(t, nil), addr, "localhost")
		require.NoError(t, err)
		echoExchange(t, s)
		require.NoError(t, s.KeyUpdate())
		echoExchange(t, s)
	})
	cell(t, peerName, role, "server killed (truncation) -> io.ErrUnexpectedEOF", func(t *testing.T) {
		p, addr := gnutlsServ(t, pk.servers["p256"], "")
		s, err := dial(t, clientCfg(t, nil), addr, "localhost")
		require.NoError(t, err)
		echoExchange(t, s)
		p.kill()
		_, err = io.ReadAll(s)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	for _, c := range []struct {
		name string
		cert *leaf
		mod  func(*rustls.ClientOptions)
		code rustls.Code
	}{
		{"expired certificate -> CertExpired", pk.expired, nil, rustls.CodeCertExpired},
		{"wrong host name -> CertNotValidForName", pk.wrongName, nil, rustls.CodeCertNotValidForName},
		{"unknown CA -> CertUnknownIssuer", pk.otherSrv, nil, rustls.CodeCertUnknownIssuer},
		{"revoked certificate (CRL) -> CertRevoked", pk.revoked, func(o *rustls.ClientOptions) { o.CRLs = [][]byte{pk.crlPEM} }, rustls.CodeCertRevoked},
	} {
		cell(t, peerName, role, c.name, func(t *testing.T) {
			_, addr := gnutlsServ(t, c.cert, "")
			_, err := dial(t, clientCfg(t, c.mod), addr, "localhost")
			e := requireCode(t, err, c.code)
			assert.ErrorIs(t, e, rustls.ErrCertificate)
		})
	}
	cell(t, peerName, role, "version mismatch (server 1.2, client 1.3 only) -> refused", func(t *testing.T) {
		_, addr := gnutlsServ(t, pk.servers["p256"], prioTLS12)
		_, err := dial(t, clientCfg(t, func(o *rustls.ClientOptions) { o.Versions = []uint16{rustls.VersionTLS13} }), addr, "localhost")
		// gnutls answers with a TLS 1.2 ServerHello, which rustls rejects.
		requireCode(t, err, rustls.CodeAlertProtocolVersion, rustls.CodePeerIncompatible)
	})
}
