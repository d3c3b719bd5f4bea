package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os/exec"
	"testing"
	"time"

	"github.com/gorustls/gorustls/internal/pki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"
)

// ocspFiles issues a server certificate for localhost and 127.0.0.1 and a
// good OCSP response for it signed by its CA, and writes the CA, the chain,
// the key and the DER response to files.
func ocspFiles(t *testing.T) (caFile, certFile, keyFile, respFile string, resp []byte) {
	t.Helper()
	ca, err := pki.NewCA("ocsp test CA")
	require.NoError(t, err)
	leaf, err := ca.Server("localhost", "127.0.0.1")
	require.NoError(t, err)
	now := time.Now()
	resp, err = ocsp.CreateResponse(ca.Cert, ca.Cert, ocsp.Response{
		Status:       ocsp.Good,
		SerialNumber: leaf.Cert.SerialNumber,
		ThisUpdate:   now.Add(-time.Hour),
		NextUpdate:   now.Add(24 * time.Hour),
	}, ca.Key)
	require.NoError(t, err)
	return writeTestFile(t, "ca.pem", ca.PEM), writeTestFile(t, "cert.pem", leaf.ChainPEM),
		writeTestFile(t, "key.pem", leaf.KeyPEM), writeTestFile(t, "ocsp.der", resp), resp
}

// TestServeOCSPWithOpenSSL: openssl s_client -status sees the response
// gorustls serve -ocsp staples, under TLS 1.2 and 1.3.
func TestServeOCSPWithOpenSSL(t *testing.T) {
	caFile, certFile, keyFile, respFile, _ := ocspFiles(t)
	srv := startServe(t, "-cert", certFile, "-key", keyFile, "-ocsp", respFile)
	for _, v := range []string{"-tls1_2", "-tls1_3"} {
		t.Run(v, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// stdin is empty: s_client handshakes, prints, and quits.
			out, err := exec.CommandContext(ctx, "openssl", "s_client", "-connect", srv.addr, v, "-status",
				"-CAfile", caFile, "-servername", "localhost", "-verify_hostname", "localhost",
				"-verify_return_error").CombinedOutput()
			require.NoError(t, ctx.Err())
			require.NoError(t, err, "%s", out)
			s := string(out)
			assert.Contains(t, s, "OCSP Response Status: successful (0x0)")
			assert.Contains(t, s, "Cert Status: good")
			assert.Contains(t, s, "Response Type: Basic OCSP Response")
			assert.Contains(t, s, "Verify return code: 0 (ok)")
		})
	}
	// Without -status openssl asks for nothing and gets nothing.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "openssl", "s_client", "-connect", srv.addr, "-CAfile", caFile,
		"-servername", "localhost").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.NotContains(t, string(out), "OCSP Response Status")
	assert.Equal(t, 0, srv.stop(t))
}

// TestServeOCSPWithGoClient: a crypto/tls client's verifier sees the exact
// bytes of the -ocsp file.
func TestServeOCSPWithGoClient(t *testing.T) {
	caFile, certFile, keyFile, respFile, resp := ocspFiles(t)
	srv := startServe(t, "-cert", certFile, "-key", keyFile, "-ocsp", respFile)
	pool, err := readPool(caFile)
	require.NoError(t, err)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		var seen []byte
		cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: v, MaxVersion: v,
			VerifyConnection: func(cs tls.ConnectionState) error { seen = cs.OCSPResponse; return nil }}
		c, err := tls.Dial("tcp", srv.addr, cfg)
		require.NoError(t, err, versionName(v))
		st := c.ConnectionState()
		c.Close()
		assert.Equal(t, resp, seen, versionName(v))
		parsed, err := ocsp.ParseResponseForCert(seen, st.PeerCertificates[0], st.VerifiedChains[0][1])
		require.NoError(t, err)
		assert.Equal(t, ocsp.Good, parsed.Status)
	}
	assert.Equal(t, 0, srv.stop(t))
}

func TestServeOCSPBadUsage(t *testing.T) {
	_, certFile, keyFile, respFile, resp := ocspFiles(t)
	ca2, err := pki.NewCA("second")
	require.NoError(t, err)
	leaf2, err := ca2.Server("b.test")
	require.NoError(t, err)
	cert2, key2 := writeTestFile(t, "cert2.pem", leaf2.ChainPEM), writeTestFile(t, "key2.pem", leaf2.KeyPEM)
	pemResp := writeTestFile(t, "ocsp.pem", pki.EncodePEM("OCSP RESPONSE", resp))
	serve := []string{"serve", "-addr", "127.0.0.1:0"}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no -cert", []string{"-ocsp", respFile}, []string{"-ocsp needs -cert"}},
		{"fewer -ocsp than -cert", []string{"-cert", certFile, "-key", keyFile, "-cert", cert2, "-key", key2, "-ocsp", respFile},
			[]string{"one -ocsp per -cert", "2 -cert, 1 -ocsp"}},
		{"missing file", []string{"-cert", certFile, "-key", keyFile, "-ocsp", "/nonexistent/ocsp.der"},
			[]string{"-ocsp", "/nonexistent/ocsp.der", "no such file"}},
		{"empty file", []string{"-cert", certFile, "-key", keyFile, "-ocsp", writeTestFile(t, "empty.der", nil)},
			[]string{"empty.der", "the file is empty"}},
		{"unreadable (a directory)", []string{"-cert", certFile, "-key", keyFile, "-ocsp", t.TempDir()},
			[]string{"-ocsp", "is a directory"}},
		{"not DER", []string{"-cert", certFile, "-key", keyFile, "-ocsp", writeTestFile(t, "junk.der", []byte("junk"))},
			[]string{"junk.der", "not a DER OCSPResponse"}},
		{"PEM", []string{"-cert", certFile, "-key", keyFile, "-ocsp", pemResp},
			[]string{"ocsp.pem", "is PEM; give its DER bytes"}},
		{"error response", []string{"-cert", certFile, "-key", keyFile, "-ocsp", writeTestFile(t, "unauth.der", ocsp.UnauthorizedErrorResponse)},
			[]string{"unauth.der", "unauthorized", "not successful"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "", append(serve, tc.args...)...)
			assert.NotEqual(t, 0, r.code)
			assert.NotContains(t, r.stderr, "msg=listening")
			for _, w := range tc.want {
				assert.Contains(t, r.stderr, w)
			}
		})
	}
}

// TestServeOCSPPerCertificate: with two certificates, each staples its own
// response, chosen by SNI.
func TestServeOCSPPerCertificate(t *testing.T) {
	caFile, certFile, keyFile, respFile, resp := ocspFiles(t)
	ca2, err := pki.NewCA("second")
	require.NoError(t, err)
	leaf2, err := ca2.Server("b.test")
	require.NoError(t, err)
	now := time.Now()
	resp2, err := ocsp.CreateResponse(ca2.Cert, ca2.Cert, ocsp.Response{Status: ocsp.Revoked, RevokedAt: now.Add(-time.Minute),
		SerialNumber: leaf2.Cert.SerialNumber, ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(time.Hour)}, ca2.Key)
	require.NoError(t, err)
	srv := startServe(t, "-cert", certFile, "-key", keyFile, "-ocsp", respFile,
		"-cert", writeTestFile(t, "cert2.pem", leaf2.ChainPEM), "-key", writeTestFile(t, "key2.pem", leaf2.KeyPEM),
		"-ocsp", writeTestFile(t, "ocsp2.der", resp2))
	pool, err := readPool(caFile)
	require.NoError(t, err)
	pool2 := x509.NewCertPool()
	pool2.AddCert(ca2.Cert)
	for _, c := range []struct {
		name string
		pool *x509.CertPool
		want []byte
	}{{"localhost", pool, resp}, {"b.test", pool2, resp2}} {
		conn, err := tls.Dial("tcp", srv.addr, &tls.Config{RootCAs: c.pool, ServerName: c.name})
		require.NoError(t, err, c.name)
		assert.Equal(t, c.want, conn.ConnectionState().OCSPResponse, c.name)
		conn.Close()
	}
	assert.Equal(t, 0, srv.stop(t))
}
