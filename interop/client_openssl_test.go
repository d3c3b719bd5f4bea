package interop

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// revExchange sends a line to an openssl s_server -rev and checks the
// reversed reply.
func revExchange(t testing.TB, s *rustls.Stream) {
	t.Helper()
	_, err := io.WriteString(s, "hello interop\n")
	require.NoError(t, err)
	got, err := bufio.NewReader(s).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "poretni olleh\n", got)
}

// revConnect starts s_server -rev with cert and connects a gorustls client.
func revConnect(t testing.TB, cert *leaf, so sslOpts, ccfg *rustls.ClientConfig) (*rustls.Stream, error) {
	t.Helper()
	_, addr := sServer(t, cert, "-rev", so, false)
	return dial(t, ccfg, addr, "localhost")
}

func TestClientOpenSSL(t *testing.T) {
	const peerName, role = "openssl s_server", "client"
	for _, v := range []string{"1.2", "1.3"} {
		for _, kt := range keyTypes {
			cell(t, peerName, role, "TLS "+v+" "+kt+" certificate", func(t *testing.T) {
				s, err := revConnect(t, pk.servers[kt], sslOpts{version: v}, clientCfg(t, nil))
				require.NoError(t, err)
				revExchange(t, s)
				assert.Equal(t, versionOf[v], s.ConnectionState().Version)
			})
		}
	}
	for _, c := range []struct {
		id uint16
		kt string
	}{{0x1301, "p256"}, {0x1302, "p256"}, {0x1303, "p256"}, {0xc02b, "p256"}, {0xc02c, "p384"}, {0xcca9, "p256"}, {0xc02f, "rsa2048"}, {0xcca8, "rsa2048"}} {
		cell(t, peerName, role, "suite "+suiteName(c.id), func(t *testing.T) {
			ccfg := clientCfg(t, func(o *rustls.ClientOptions) { o.CipherSuites = []uint16{c.id} })
			s, err := revConnect(t, pk.servers[c.kt], sslOpts{}, ccfg)
			require.NoError(t, err)
			revExchange(t, s)
			assert.Equal(t, c.id, s.ConnectionState().CipherSuite)
		})
	}
	for _, c := range []struct {
		name  string
		offer []string
		want  string
	}{
		{"ALPN h2", []string{"h2", "http/1.1"}, "h2"},
		{"ALPN http/1.1", []string{"http/1.1"}, "http/1.1"},
		{"ALPN none offered", nil, ""},
	} {
		cell(t, peerName, role, c.name, func(t *testing.T) {
			ccfg := clientCfg(t, func(o *rustls.ClientOptions) { o.NextProtos = c.offer })
			s, err := revConnect(t, pk.servers["p256"], sslOpts{alpn: "h2,http/1.1"}, ccfg)
			require.NoError(t, err)
			revExchange(t, s)
			assert.Equal(t, c.want, s.ConnectionState().NegotiatedProtocol)
		})
	}
	cell(t, peerName, role, "ALPN no overlap -> no_application_protocol alert", func(t *testing.T) {
		ccfg := clientCfg(t, func(o *rustls.ClientOptions) { o.NextProtos = []string{"spdy/1"} })
		_, err := revConnect(t, pk.servers["p256"], sslOpts{alpn: "h2,http/1.1"}, ccfg)
		requireCode(t, err, rustls.CodeAlertNoApplicationProto)
	})
	withCert := func(t *testing.T) *rustls.ClientConfig {
		return clientCfg(t, func(o *rustls.ClientOptions) { o.Certificate = certKey(t, pk.client) })
	}
	for _, v := range []string{"1.2", "1.3"} {
		cell(t, peerName, role, "TLS "+v+" mTLS required, certificate given", func(t *testing.T) {
			s, err := revConnect(t, pk.servers["p256"], sslOpts{version: v, extra: []string{"-Verify", "1", "-verify_return_error"}}, withCert(t))
			require.NoError(t, err)
			revExchange(t, s)
		})
	}
	cell(t, peerName, role, "mTLS optional, no certificate", func(t *testing.T) {
		s, err := revConnect(t, pk.servers["p256"], sslOpts{extra: []string{"-verify", "1", "-verify_return_error"}}, clientCfg(t, nil))
		require.NoError(t, err)
		revExchange(t, s)
	})
	cell(t, peerName, role, "TLS 1.3 mTLS required, no certificate -> certificate_required alert", func(t *testing.T) {
		s, err := revConnect(t, pk.servers["p256"], sslOpts{version: "1.3", extra: []string{"-Verify", "1", "-verify_return_error"}}, clientCfg(t, nil))
		if err == nil { // TLS 1.3: the alert arrives after the client's Finished
			_, err = s.Read(make([]byte, 16))
		}
		e := requireCode(t, err, rustls.CodeAlertCertificateRequired)
		assert.ErrorIs(t, e, rustls.ErrAlertReceived)
	})
	cell(t, peerName, role, "TLS 1.2 mTLS required, no certificate -> handshake_failure alert", func(t *testing.T) {
		_, err := revConnect(t, pk.servers["p256"], sslOpts{version: "1.2", extra: []string{"-Verify", "1", "-verify_return_error"}}, clientCfg(t, nil))
		e := requireCode(t, err, rustls.CodeAlertHandshakeFailure)
		assert.ErrorIs(t, e, rustls.ErrAlertReceived)
	})
	cell(t, peerName, role, "mTLS client certificate from the wrong CA -> unknown_ca alert", func(t *testing.T) {
		ccfg := clientCfg(t, func(o *rustls.ClientOptions) { o.Certificate = certKey(t, pk.otherCli) })
		s, err := revConnect(t, pk.servers["p256"], sslOpts{version: "1.3", extra: []string{"-Verify", "1", "-verify_return_error"}}, ccfg)
		if err == nil {
			_, err = s.Read(make([]byte, 16))
		}
		requireCode(t, err, rustls.CodeAlertUnknownCA)
	})
	for _, v := range []string{"1.2", "1.3"} {
		cell(t, peerName, role, "TLS "+v+" session resumption", func(t *testing.T) {
			_, addr := sServer(t, pk.servers["p256"], "-rev", sslOpts{version: v}, false)
			ccfg := clientCfg(t, nil)
			s, err := dial(t, ccfg, addr, "localhost")
			require.NoError(t, err)
			revExchange(t, s) // TLS 1.3: the ticket arrives with the reply
			assert.Equal(t, rustls.HandshakeFull, s.HandshakeKind())
			require.NoError(t, s.Close())
			s, err = dial(t, ccfg, addr, "localhost")
			require.NoError(t, err)
			revExchange(t, s)
			assert.Equal(t, rustls.HandshakeResumed, s.HandshakeKind())
			assert.True(t, s.ConnectionState().DidResume)
		})
	}
	cell(t, peerName, role, "TLS 1.3 key update (server K, client KeyUpdate)", func(t *testing.T) {
		p, addr := sServer(t, pk.servers["p256"], "", sslOpts{version: "1.3"}, true)
		s, err := dial(t, clientCfg(t, nil), addr, "localhost")
		require.NoError(t, err)
		br := bufio.NewReader(s)
		p.requireOut("CIPHER is")
		p.send("K\n")                      // KeyUpdate, update_requested
		time.Sleep(300 * time.Millisecond) // s_server takes a command only alone in one read
		p.send("after server update\n")
		got, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "after server update\n", got)
		require.NoError(t, s.KeyUpdate())
		_, err = io.WriteString(s, "after client update\n")
		require.NoError(t, err)
		p.requireOut("SSL_do_handshake -> 1", "after client update")
		p.send("still in sync\n")
		got, err = br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "still in sync\n", got)
	})
	cell(t, peerName, role, "64 MiB download (s_server -WWW), SHA-256, close_notify", func(t *testing.T) {
		_, want := bigFile(t)
		_, addr := sServer(t, pk.servers["p256"], "-WWW", sslOpts{}, false)
		s, err := dial(t, clientCfg(t, nil), addr, "localhost")
		require.NoError(t, err)
		_, err = io.WriteString(s, "GET /big.bin HTTP/1.0\r\n\r\n")
		require.NoError(t, err)
		br := bufio.NewReaderSize(s, 64<<10)
		for {
			line, err := br.ReadString('\n')
			require.NoError(t, err)
			if line == "\r\n" {
				break
			}
		}
		h := sha256.New()
		head, _ := br.Peek(300)
		n, err := io.Copy(h, br)
		require.Equal(t, int64(bigSize), n, "body starts %q", head)
		require.NoError(t, err, "s_server ends with close_notify: a clean io.EOF")
		assert.Equal(t, int64(bigSize), n)
		assert.Equal(t, want, hex.EncodeToString(h.Sum(nil)))
	})
	cell(t, peerName, role, "server close_notify -> io.EOF", func(t *testing.T) {
		s, err := revConnect(t, pk.servers["p256"], sslOpts{}, clientCfg(t, nil))
		require.NoError(t, err)
		_, err = io.WriteString(s, "abc\nCLOSE\n")
		require.NoError(t, err)
		got, err := io.ReadAll(s)
		require.NoError(t, err)
		assert.True(t, bytes.HasPrefix(got, []byte("cba\n")), "%q", got)
	})
	cell(t, peerName, role, "server killed (truncation) -> io.ErrUnexpectedEOF", func(t *testing.T) {
		p, addr := sServer(t, pk.servers["p256"], "", sslOpts{}, true)
		s, err := dial(t, clientCfg(t, nil), addr, "localhost")
		require.NoError(t, err)
		p.requireOut("CIPHER is")
		p.send("data\n")
		got, err := bufio.NewReader(s).ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "data\n", got)
		p.kill()
		_, err = io.ReadAll(s)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	negative := []struct {
		name string
		cert *leaf
		so   sslOpts
		mod  func(*rustls.ClientOptions)
		code []rustls.Code
	}{
		{"expired certificate -> CertExpired", pk.expired, sslOpts{}, nil, []rustls.Code{rustls.CodeCertExpired}},
		{"wrong host name -> CertNotValidForName", pk.wrongName, sslOpts{}, nil, []rustls.Code{rustls.CodeCertNotValidForName}},
		{"unknown CA -> CertUnknownIssuer", pk.otherSrv, sslOpts{}, nil, []rustls.Code{rustls.CodeCertUnknownIssuer}},
		{"revoked certificate (CRL) -> CertRevoked", pk.revoked, sslOpts{}, func(o *rustls.ClientOptions) { o.CRLs = [][]byte{pk.crlPEM} }, []rustls.Code{rustls.CodeCertRevoked}},
		{"version mismatch (server 1.2, client 1.3 only) -> protocol_version alert", pk.servers["p256"], sslOpts{version: "1.2"},
			func(o *rustls.ClientOptions) { o.Versions = []uint16{rustls.VersionTLS13} }, []rustls.Code{rustls.CodeAlertProtocolVersion}},
		{"suite mismatch (server AES-128-GCM, client ChaCha20 only) -> handshake_failure alert", pk.servers["p256"], sslOpts{version: "1.3", suites: "TLS_AES_128_GCM_SHA256"},
			func(o *rustls.ClientOptions) { o.CipherSuites = []uint16{0x1303} }, []rustls.Code{rustls.CodeAlertHandshakeFailure}},
	}
	for _, c := range negative {
		cell(t, peerName, role, c.name, func(t *testing.T) {
			_, err := revConnect(t, c.cert, c.so, clientCfg(t, c.mod))
			e := requireCode(t, err, c.code...)
			if c.code[0] < 7200 {
				assert.ErrorIs(t, e, rustls.ErrCertificate)
			} else {
				assert.ErrorIs(t, e, rustls.ErrAlertReceived)
			}
		})
	}
}

func suiteName(id uint16) string {
	for _, s := range rustlsSuites() {
		if s.ID == id {
			return s.Name
		}
	}
	return "0x" + hex.EncodeToString([]byte{byte(id >> 8), byte(id)})
}

func rustlsSuites() []rustls.CipherSuite {
	p, err := rustls.DefaultProvider()
	if err != nil {
		return nil
	}
	defer p.Close()
	return p.CipherSuites()
}
