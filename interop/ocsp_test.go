package interop

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"
)

// OCSP stapling (CertifiedKey.WithOCSP) against openssl and gnutls, both
// ways. (Certificate compression has no peer here: OpenSSL 3.0 predates
// it and Debian's GnuTLS 3.7.9 is built without brotli, zlib and zstd, so
// its --compress-cert does nothing; rustls/compress_test.go covers it
// between gorustls endpoints.)

// ocspResponse returns a good OCSP response for l signed by the suite's
// CA, and a file holding it.
func ocspResponse(t testing.TB, l *leaf) ([]byte, string) {
	t.Helper()
	now := time.Now()
	der, err := ocsp.CreateResponse(pk.ca.ca.Cert, pk.ca.ca.Cert, ocsp.Response{
		Status:       ocsp.Good,
		SerialNumber: l.cert.SerialNumber,
		ThisUpdate:   now.Add(-time.Hour),
		NextUpdate:   now.Add(24 * time.Hour),
	}, pk.ca.ca.Key)
	require.NoError(t, err)
	f := filepath.Join(t.TempDir(), "ocsp.der")
	require.NoError(t, os.WriteFile(f, der, 0o600))
	return der, f
}

// stapledServerCfg is a server config whose p256 certificate staples a
// good OCSP response.
func stapledServerCfg(t testing.TB) (*rustls.ServerConfig, []byte) {
	t.Helper()
	resp, _ := ocspResponse(t, pk.servers["p256"])
	k, err := certKey(t, pk.servers["p256"]).WithOCSP(resp)
	require.NoError(t, err)
	t.Cleanup(func() { k.Close() })
	return serverCfg(t, "p256", func(o *rustls.ServerOptions) { o.Certificates = []*rustls.CertifiedKey{k} }), resp
}

// stapleSeen is a client config whose custom verifier records the staple
// (rustls-ffi hands the staple to a custom verifier only). It checks the
// chain with crypto/x509 against the suite's CA first.
func stapleSeen(t testing.TB) (*rustls.ClientConfig, func() []byte) {
	var mu sync.Mutex
	var seen []byte
	cfg := clientCfg(t, func(o *rustls.ClientOptions) {
		o.RootCAs = nil
		o.DangerousVerifyPeerCertificate = func(name string, raw [][]byte, staple []byte) error {
			if err := verifyWithPool(name, raw); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			seen = staple
			return nil
		}
	})
	return cfg, func() []byte { mu.Lock(); defer mu.Unlock(); return seen }
}

// verifyWithPool verifies a server chain for name against the suite's CA
// with crypto/x509.
func verifyWithPool(name string, raw [][]byte) error {
	certs := make([]*x509.Certificate, len(raw))
	for i, der := range raw {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{DNSName: name, Roots: pk.ca.pool(), Intermediates: inter})
	return err
}

// requireGood checks that staple is a good OCSP response for l, signed by
// the suite's CA.
func requireGood(t testing.TB, staple []byte, l *leaf) {
	t.Helper()
	r, err := ocsp.ParseResponseForCert(staple, l.cert, pk.ca.ca.Cert)
	require.NoError(t, err)
	assert.Equal(t, ocsp.Good, r.Status)
}

func TestOCSPStapling(t *testing.T) {
	for _, v := range []string{"1.2", "1.3"} {
		cell(t, "openssl s_client", "server", "TLS "+v+" OCSP staple (-status)", func(t *testing.T) {
			cfg, _ := stapledServerCfg(t)
			opensslEcho(t, cfg, sslOpts{version: v, extra: []string{"-status"}},
				"OCSP Response Status: successful (0x0)", "Cert Status: good")
		})
		prio := map[string]string{"1.2": prioTLS12, "1.3": prioTLS13}[v]
		cell(t, "gnutls-cli", "server", "TLS "+v+" OCSP staple (--save-ocsp)", func(t *testing.T) {
			cfg, resp := stapledServerCfg(t)
			saved := filepath.Join(t.TempDir(), "saved.der")
			gnutlsEcho(t, cfg, "", prio, nil, "--save-ocsp", saved)
			got, err := os.ReadFile(saved)
			require.NoError(t, err)
			assert.Equal(t, resp, got)
		})
		cell(t, "openssl s_server", "client", "TLS "+v+" OCSP staple (-status_file) seen by the custom verifier", func(t *testing.T) {
			resp, file := ocspResponse(t, pk.servers["p256"])
			ccfg, seen := stapleSeen(t)
			s, err := revConnect(t, pk.servers["p256"], sslOpts{version: v, extra: []string{"-status_file", file}}, ccfg)
			require.NoError(t, err)
			revExchange(t, s)
			assert.Equal(t, resp, seen())
			assert.Equal(t, resp, s.ConnectionState().OCSPResponse)
			requireGood(t, seen(), pk.servers["p256"])
		})
		cell(t, "gnutls-serv", "client", "TLS "+v+" OCSP staple (--ocsp-response) seen by the custom verifier", func(t *testing.T) {
			resp, file := ocspResponse(t, pk.servers["p256"])
			ccfg, seen := stapleSeen(t)
			_, addr := gnutlsServ(t, pk.servers["p256"], prio, "--ocsp-response", file)
			s, err := dial(t, ccfg, addr, "localhost")
			require.NoError(t, err)
			echoExchange(t, s)
			assert.Equal(t, resp, seen())
			requireGood(t, seen(), pk.servers["p256"])
		})
	}
}
