package interop

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// opensslEcho runs one echo exchange between s_client and a gorustls
// server and returns what both saw. The server closes with close_notify.
func opensslEcho(t *testing.T, cfg *rustls.ServerConfig, o sslOpts, want ...string) connResult {
	srv := startServer(t, acceptWith(cfg), echoLines)
	p := sClient(t, srv.port, o, true)
	p.send("hello interop\nbye\n")
	p.requireOut(append([]string{"hello interop\nbye\n", "Verify return code: 0 (ok)", "closed"}, want...)...)
	p.requireExit(true)
	r := srv.next(t)
	require.NoError(t, r.err)
	require.Equal(t, io.EOF, r.end)
	return r
}

var tls13Suites = map[string]uint16{
	"TLS_AES_128_GCM_SHA256":       0x1301,
	"TLS_AES_256_GCM_SHA384":       0x1302,
	"TLS_CHACHA20_POLY1305_SHA256": 0x1303,
}

func TestServerOpenSSL(t *testing.T) {
	const peerName, role = "openssl s_client", "server"
	for _, v := range []string{"1.2", "1.3"} {
		for _, kt := range keyTypes {
			cell(t, peerName, role, "TLS "+v+" "+kt+" certificate", func(t *testing.T) {
				r := opensslEcho(t, serverCfg(t, kt, nil), sslOpts{version: v}, "New, TLSv"+v)
				assert.Equal(t, map[string]uint16{"1.2": rustls.VersionTLS12, "1.3": rustls.VersionTLS13}[v], r.state.Version)
			})
		}
	}
	for name, id := range tls13Suites {
		cell(t, peerName, role, "TLS 1.3 suite "+name, func(t *testing.T) {
			r := opensslEcho(t, serverCfg(t, "p256", nil), sslOpts{version: "1.3", suites: name}, "Cipher is "+name)
			assert.Equal(t, id, r.state.CipherSuite)
		})
	}
	for _, c := range []struct{ name, kt string }{
		{"ECDHE-ECDSA-AES128-GCM-SHA256", "p256"}, {"ECDHE-ECDSA-AES256-GCM-SHA384", "p384"},
		{"ECDHE-ECDSA-CHACHA20-POLY1305", "p256"}, {"ECDHE-RSA-AES128-GCM-SHA256", "rsa2048"},
		{"ECDHE-RSA-CHACHA20-POLY1305", "rsa2048"},
	} {
		cell(t, peerName, role, "TLS 1.2 suite "+c.name, func(t *testing.T) {
			opensslEcho(t, serverCfg(t, c.kt, nil), sslOpts{version: "1.2", ciphers: c.name}, "Cipher is "+c.name)
		})
	}
	alpnCases := []struct{ name, offer, want string }{
		{"ALPN h2", "h2,http/1.1", "h2"}, {"ALPN http/1.1", "http/1.1", "http/1.1"}, {"ALPN none offered", "", ""},
	}
	for _, c := range alpnCases {
		cell(t, peerName, role, c.name, func(t *testing.T) {
			cfg := serverCfg(t, "p256", func(o *rustls.ServerOptions) { o.NextProtos = []string{"h2", "http/1.1"} })
			wantOut := "No ALPN negotiated"
			if c.want != "" {
				wantOut = "ALPN protocol: " + c.want
			}
			r := opensslEcho(t, cfg, sslOpts{alpn: c.offer}, wantOut)
			assert.Equal(t, c.want, r.state.NegotiatedProtocol)
		})
	}
	cell(t, peerName, role, "ALPN no overlap -> no_application_protocol", func(t *testing.T) {
		cfg := serverCfg(t, "p256", func(o *rustls.ServerOptions) { o.NextProtos = []string{"h2"} })
		srv := startServer(t, acceptWith(cfg), echoLines)
		p := sClient(t, srv.port, sslOpts{alpn: "spdy/1"}, true)
		p.requireExit(false)
		assert.Contains(t, p.out.String(), "no application protocol")
		requireCode(t, srv.next(t).err, rustls.CodeNoApplicationProtocol)
	})
	mtls := func(auth rustls.ClientAuth) *rustls.ServerConfig {
		return serverCfg(t, "p256", func(o *rustls.ServerOptions) {
			o.ClientAuth = auth
			o.ClientCAs = pk.ca.pem
			o.ClientCRLs = [][]byte{pk.crlPEM}
		})
	}
	for _, v := range []string{"1.2", "1.3"} {
		cell(t, peerName, role, "TLS "+v+" mTLS required, certificate given", func(t *testing.T) {
			r := opensslEcho(t, mtls(rustls.RequireAndVerifyClientCert), sslOpts{version: v, cert: pk.client})
			require.Len(t, r.state.PeerCertificates, 2)
			assert.Equal(t, pk.client.cert.Raw, r.state.PeerCertificates[0].Raw)
		})
	}
	cell(t, peerName, role, "mTLS optional, certificate given", func(t *testing.T) {
		r := opensslEcho(t, mtls(rustls.VerifyClientCertIfGiven), sslOpts{cert: pk.client})
		assert.NotEmpty(t, r.state.PeerCertificates)
	})
	cell(t, peerName, role, "mTLS optional, no certificate", func(t *testing.T) {
		r := opensslEcho(t, mtls(rustls.VerifyClientCertIfGiven), sslOpts{})
		assert.Empty(t, r.state.PeerCertificates)
	})
	for _, v := range []string{"1.2", "1.3"} {
		cell(t, peerName, role, "TLS "+v+" mTLS required, no certificate -> refused", func(t *testing.T) {
			srv := startServer(t, acceptWith(mtls(rustls.RequireAndVerifyClientCert)), echoLines)
			p := sClient(t, srv.port, sslOpts{version: v}, true)
			p.send("hello\n")
			p.requireExit(false)
			requireCode(t, srv.next(t).err, rustls.CodeNoCertificatesPresented)
		})
	}
	cell(t, peerName, role, "mTLS client certificate from the wrong CA -> refused", func(t *testing.T) {
		srv := startServer(t, acceptWith(mtls(rustls.RequireAndVerifyClientCert)), echoLines)
		p := sClient(t, srv.port, sslOpts{cert: pk.otherCli}, true)
		p.send("hello\n")
		p.requireExit(false)
		e := requireCode(t, srv.next(t).err, rustls.CodeCertUnknownIssuer)
		assert.ErrorIs(t, e, rustls.ErrCertificate)
	})
	cell(t, peerName, role, "mTLS revoked client certificate (CRL) -> refused", func(t *testing.T) {
		srv := startServer(t, acceptWith(mtls(rustls.RequireAndVerifyClientCert)), echoLines)
		p := sClient(t, srv.port, sslOpts{cert: pk.revokedCli}, true)
		p.send("hello\n")
		p.requireExit(false)
		e := requireCode(t, srv.next(t).err, rustls.CodeCertRevoked)
		assert.ErrorIs(t, e, rustls.ErrCertificate)
	})
	for _, name := range []string{"a.test", "b.test"} {
		cell(t, peerName, role, "SNI routing (LazyAcceptor) "+name, func(t *testing.T) {
			srv := startServer(t, sniAcceptor(t).Accept, echoLines)
			p := sClient(t, srv.port, sslOpts{extra: []string{"-servername", name, "-verify_hostname", name}}, true)
			p.send("hello interop\nbye\n")
			p.requireOut("hello interop\nbye\n", "Verify return code: 0 (ok)", "CN = sni-"+name[:1])
			p.requireExit(true)
			r := srv.next(t)
			require.NoError(t, r.err)
			assert.Equal(t, name, r.state.ServerName)
		})
	}
	cell(t, peerName, role, "SNI unknown name -> unrecognized_name", func(t *testing.T) {
		srv := startServer(t, sniAcceptor(t).Accept, echoLines)
		p := sClient(t, srv.port, sslOpts{extra: []string{"-servername", "c.test"}}, true)
		p.requireExit(false)
		assert.Contains(t, p.out.String(), "unrecognized name")
		var re *rustls.RefuseError
		require.ErrorAs(t, srv.next(t).err, &re)
		assert.Equal(t, rustls.AlertUnrecognizedName, re.Alert)
	})
	for _, v := range []string{"1.2", "1.3"} {
		cell(t, peerName, role, "TLS "+v+" session resumption", func(t *testing.T) {
			cfg := serverCfg(t, "p256", nil)
			sess := filepath.Join(t.TempDir(), "sess.pem")
			r := opensslEcho(t, cfg, sslOpts{version: v, extra: []string{"-sess_out", sess}}, "New, TLSv"+v)
			assert.Equal(t, rustls.HandshakeFull, r.kind)
			r = opensslEcho(t, cfg, sslOpts{version: v, extra: []string{"-sess_in", sess}}, "Reused, TLSv"+v)
			assert.Equal(t, rustls.HandshakeResumed, r.kind)
			assert.True(t, r.state.DidResume)
		})
	}
	cell(t, peerName, role, "TLS 1.3 key update (client K, server KeyUpdate)", func(t *testing.T) {
		srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), echoLines)
		p := sClient(t, srv.port, sslOpts{version: "1.3"}, true)
		p.send("one\n")
		p.requireOut("one\n")
		p.send("K\n")
		p.requireOut("KEYUPDATE")
		p.send("two\n")
		p.requireOut("two\n")
		p.send("rekey\n")
		p.requireOut("rekey\n")
		p.send("three\nbye\n")
		p.requireOut("three\nbye\n", "closed")
		p.requireExit(true)
		r := srv.next(t)
		require.NoError(t, r.err)
	})
	cell(t, peerName, role, "64 MiB upload, SHA-256", func(t *testing.T) {
		const size = 64 << 20
		srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), func(s *rustls.Stream, r *connResult) {
			h := sha256.New()
			n, err := io.CopyN(h, s, size)
			if err != nil {
				r.err = fmt.Errorf("after %d bytes: %w", n, err)
				return
			}
			_, r.err = fmt.Fprintf(s, "sha256=%x\n", h.Sum(nil))
		})
		data, sum := bigFile(t)
		f, err := os.Open(data)
		require.NoError(t, err)
		defer f.Close()
		args := []string{"openssl", "s_client", "-connect", "127.0.0.1:" + itoa(srv.port), "-quiet",
			"-servername", "localhost", "-verify_return_error", "-CAfile", pk.ca.file}
		p := startPeer(t, peerSpec{args: args, stdin: true})
		go func() { _, _ = io.Copy(p.stdin, f) }()
		p.requireOut("sha256=" + sum)
		r := srv.next(t)
		require.NoError(t, r.err)
	})
	cell(t, peerName, role, "64 MiB download, SHA-256", func(t *testing.T) {
		srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), sendBig)
		h := sha256.New()
		args := []string{"openssl", "s_client", "-connect", "127.0.0.1:" + itoa(srv.port), "-quiet",
			"-servername", "localhost", "-verify_return_error", "-CAfile", pk.ca.file}
		p := startPeer(t, peerSpec{args: args, stdin: true, stdout: h})
		p.requireExit(true)
		r := srv.next(t)
		require.NoError(t, r.err)
		assert.Equal(t, r.info, hex.EncodeToString(h.Sum(nil)))
	})
	cell(t, peerName, role, "client close_notify -> io.EOF", func(t *testing.T) {
		srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), echoLines)
		p := sClient(t, srv.port, sslOpts{}, true)
		p.send("hello\n")
		p.requireOut("hello\n")
		require.NoError(t, p.stdin.Close()) // s_client: DONE, close_notify
		p.requireExit(true)
		r := srv.next(t)
		require.NoError(t, r.err)
		assert.Equal(t, io.EOF, r.end)
	})
	cell(t, peerName, role, "client killed (truncation) -> io.ErrUnexpectedEOF", func(t *testing.T) {
		srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), echoLines)
		p := sClient(t, srv.port, sslOpts{}, true)
		p.send("hello\n")
		p.requireOut("hello\n")
		p.kill()
		r := srv.next(t)
		require.NoError(t, r.err)
		assert.ErrorIs(t, r.end, io.ErrUnexpectedEOF)
	})
	cell(t, peerName, role, "version mismatch (server 1.3 only, client 1.2) -> refused", func(t *testing.T) {
		cfg := serverCfg(t, "p256", func(o *rustls.ServerOptions) { o.Versions = []uint16{rustls.VersionTLS13} })
		srv := startServer(t, acceptWith(cfg), echoLines)
		p := sClient(t, srv.port, sslOpts{version: "1.2"}, true)
		p.requireExit(false)
		e := requireCode(t, srv.next(t).err, rustls.CodePeerIncompatible)
		assert.ErrorIs(t, e, rustls.ErrProtocol)
	})
	cell(t, peerName, role, "suite mismatch (server ChaCha20 only, client AES) -> refused", func(t *testing.T) {
		cfg := serverCfg(t, "p256", func(o *rustls.ServerOptions) { o.CipherSuites = []uint16{0x1303} })
		srv := startServer(t, acceptWith(cfg), echoLines)
		p := sClient(t, srv.port, sslOpts{version: "1.3", suites: "TLS_AES_128_GCM_SHA256"}, true)
		p.requireExit(false)
		// rustls picks the certificate for the suites in common before the
		// suite, so a suite mismatch surfaces as "no server certificate
		// chain resolved" (general error, access_denied alert).
		e := requireCode(t, srv.next(t).err, rustls.CodePeerIncompatible, rustls.CodeGeneral)
		assert.ErrorIs(t, e, rustls.ErrProtocol)
	})
}

// sniAcceptor routes a.test and b.test to their certificates and refuses
// other names.
func sniAcceptor(t testing.TB) *rustls.LazyAcceptor {
	cfgs := map[string]*rustls.ServerConfig{}
	for name, l := range pk.sni {
		cfg, err := rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{certKey(t, l)}})
		require.NoError(t, err)
		t.Cleanup(func() { cfg.Close() })
		cfgs[name] = cfg
	}
	return &rustls.LazyAcceptor{
		Options: rustls.StreamOptions{WriteThrough: true},
		Choose: func(h *rustls.ClientHello) (*rustls.ServerConfig, error) {
			if cfg := cfgs[strings.ToLower(h.ServerName)]; cfg != nil {
				return cfg, nil
			}
			return nil, &rustls.RefuseError{Alert: rustls.AlertUnrecognizedName, Reason: "unknown name " + h.ServerName}
		},
	}
}
