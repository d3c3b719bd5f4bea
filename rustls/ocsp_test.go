package rustls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"
)

// Tests of OCSP stapling (CertifiedKey.WithOCSP), through the public API.

// ocspGood returns a DER OCSP response, signed by ca, saying that cert is
// good.
func ocspGood(t testing.TB, ca *testCA, cert *x509.Certificate) []byte {
	t.Helper()
	now := time.Now()
	der, err := ocsp.CreateResponse(ca.cert, ca.cert, ocsp.Response{
		Status:       ocsp.Good,
		SerialNumber: cert.SerialNumber,
		ThisUpdate:   now.Add(-time.Hour),
		NextUpdate:   now.Add(24 * time.Hour),
	}, ca.key)
	require.NoError(t, err)
	return der
}

// stapledKey returns the shared server key with a fresh OCSP response for
// it, and the response.
func stapledKey(t testing.TB) (*CertifiedKey, []byte) {
	t.Helper()
	ca, srv, _ := pki(t)
	resp := ocspGood(t, ca, srv.cert)
	k, err := srv.certifiedKey(t).WithOCSP(resp)
	require.NoError(t, err)
	t.Cleanup(func() { k.Close() })
	return k, resp
}

func TestCertifiedKeyWithOCSPGoClient(t *testing.T) {
	ca, _, _ := pki(t)
	k, resp := stapledKey(t)
	scfg := serverConfig(t, func(o *ServerOptions) { o.Certificates = []*CertifiedKey{k} })
	for _, v := range []uint16{VersionTLS12, VersionTLS13} {
		t.Run(versionNames[v], func(t *testing.T) {
			var seen []byte
			gcfg := goTLSClientConfig(t)
			gcfg.MinVersion, gcfg.MaxVersion = v, v
			gcfg.VerifyConnection = func(cs tls.ConnectionState) error {
				seen = cs.OCSPResponse
				return nil
			}
			r := goClientToServer(t, scfg, gcfg)
			require.NoError(t, r.clientErr)
			require.NoError(t, r.serverErr)
			assert.Equal(t, v, r.state.Version)
			assert.Equal(t, resp, seen, "the client's verifier sees the exact staple")
			assert.Equal(t, resp, r.state.OCSPResponse)
			// It is the real thing: a good status for this certificate,
			// signed by the CA.
			parsed, err := ocsp.ParseResponseForCert(seen, r.state.PeerCertificates[0], ca.cert)
			require.NoError(t, err)
			assert.Equal(t, ocsp.Good, parsed.Status)
		})
	}
	t.Run("no staple without WithOCSP", func(t *testing.T) {
		r := goClientToServer(t, serverConfig(t, nil), goTLSClientConfig(t))
		require.NoError(t, r.clientErr)
		assert.Nil(t, r.state.OCSPResponse)
	})
}

func TestCertifiedKeyWithOCSPRustlsClient(t *testing.T) {
	k, resp := stapledKey(t)
	scfg := serverConfig(t, func(o *ServerOptions) { o.Certificates = []*CertifiedKey{k} })
	for _, v := range []uint16{VersionTLS12, VersionTLS13} {
		t.Run(versionNames[v], func(t *testing.T) {
			var mu sync.Mutex
			var seen []byte
			ccfg := clientConfig(t, func(o *ClientOptions) {
				o.RootCAs = nil
				o.Versions = []uint16{v}
				o.DangerousVerifyPeerCertificate = func(_ string, _ [][]byte, staple []byte) error {
					mu.Lock()
					defer mu.Unlock()
					seen = staple
					return nil
				}
			})
			c, _ := mustPair(t, scfg, ccfg)
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, resp, seen)
			assert.Equal(t, resp, c.ConnectionState().OCSPResponse)
			assert.Equal(t, v, c.ConnectionState().Version)
		})
	}
}

func TestCertifiedKeyWithOCSPGetCertificate(t *testing.T) {
	k, resp := stapledKey(t)
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.Certificates = nil
		o.GetCertificate = func(*ClientHello) (*CertifiedKey, error) { return k, nil }
	})
	r := goClientToServer(t, scfg, goTLSClientConfig(t))
	require.NoError(t, r.clientErr)
	assert.Equal(t, resp, r.state.OCSPResponse)
}

func TestCertifiedKeyWithOCSPIndependentLifetimes(t *testing.T) {
	ca, srv, _ := pki(t)
	resp := ocspGood(t, ca, srv.cert)
	base, err := NewCertifiedKey(srv.certPEM, srv.keyPEM)
	require.NoError(t, err)
	stapled, err := base.WithOCSP(resp)
	require.NoError(t, err)
	assert.Equal(t, base.Leaf(), stapled.Leaf())
	assert.Nil(t, base.OCSPStaple(), "the source key is unchanged")
	assert.Equal(t, resp, stapled.OCSPStaple())

	// The clone outlives its source...
	require.NoError(t, base.Close())
	scfg := serverConfig(t, func(o *ServerOptions) { o.Certificates = []*CertifiedKey{stapled} })
	r := goClientToServer(t, scfg, goTLSClientConfig(t))
	require.NoError(t, r.clientErr)
	assert.Equal(t, resp, r.state.OCSPResponse)
	// ...and a closed source cannot be cloned.
	_, err = base.WithOCSP(resp)
	e := requireCode(t, err, CodeInvalidParameter)
	assert.Contains(t, e.Detail, "closed")
	assert.ErrorIs(t, err, ErrInvalidInput)

	// Closing the clone leaves the config serving (it holds its own
	// reference) and its source untouched.
	require.NoError(t, stapled.Close())
	r = goClientToServer(t, scfg, goTLSClientConfig(t))
	require.NoError(t, r.clientErr)
	assert.Equal(t, resp, r.state.OCSPResponse)

	// OCSPStaple hands out a copy.
	other, err := srv.certifiedKey(t).WithOCSP(resp)
	require.NoError(t, err)
	defer other.Close()
	got := other.OCSPStaple()
	got[0] ^= 0xff
	assert.Equal(t, resp, other.OCSPStaple())

	// Keys that were never made by NewCertifiedKey.
	var nilKey *CertifiedKey
	_, err = nilKey.WithOCSP(resp)
	requireCode(t, err, CodeInvalidParameter)
	assert.Nil(t, nilKey.OCSPStaple())
	_, err = (&CertifiedKey{}).WithOCSP(resp)
	requireCode(t, err, CodeInvalidParameter)
}

func TestCertifiedKeyWithOCSPBadInput(t *testing.T) {
	ca, srv, _ := pki(t)
	good := ocspGood(t, ca, srv.cert)
	k := srv.certifiedKey(t)
	derOf := func(v any) []byte {
		b, err := asn1.Marshal(v)
		require.NoError(t, err)
		return b
	}
	type respBytes struct {
		Type asn1.ObjectIdentifier
		Resp []byte
	}
	type resp struct {
		Status asn1.Enumerated
		Bytes  respBytes `asn1:"explicit,tag:0,optional"`
	}
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"nil", nil, "empty"},
		{"empty", []byte{}, "empty"},
		{"PEM", pemBlock("OCSP RESPONSE", good), "PEM"},
		{"garbage", []byte("not an OCSP response"), "not a DER OCSPResponse"},
		{"truncated", good[:len(good)-1], "not a DER OCSPResponse"},
		{"trailing data", append(bytes.Clone(good), 0), "trailing data"},
		{"unauthorized", ocsp.UnauthorizedErrorResponse, "unauthorized (6)"},
		{"tryLater", derOf(resp{Status: 3}), "tryLater (3)"},
		{"successful without a response", derOf(struct{ Status asn1.Enumerated }{0}), "holds no response"},
		{"other response type", derOf(resp{Bytes: respBytes{asn1.ObjectIdentifier{1, 2, 3}, derOf(struct{ A int }{1})}}), "not a basic OCSP response"},
		{"basic response not a SEQUENCE", derOf(resp{Bytes: respBytes{oidOCSPBasic, []byte{4, 1, 0}}}), "not a DER SEQUENCE"},
		{"too large for TLS 1.3", derOf(resp{Bytes: respBytes{oidOCSPBasic, derOf(struct{ B []byte }{make([]byte, 65535)})}}), "at most 65527"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nk, err := k.WithOCSP(c.in)
			assert.Nil(t, nk)
			e := requireCode(t, err, CodeInvalidParameter)
			assert.ErrorIs(t, err, ErrInvalidInput)
			assert.Contains(t, e.Detail, c.want)
			assert.Equal(t, "add an OCSP response to a certified key", e.Op)
		})
	}
	// The largest response TLS 1.3 carries is accepted and stapled whole.
	big := derOf(resp{Bytes: respBytes{oidOCSPBasic, derOf(struct{ B []byte }{})}})
	pad := maxOCSPResponse - len(big)
	for {
		big = derOf(resp{Bytes: respBytes{oidOCSPBasic, derOf(struct{ B []byte }{make([]byte, pad)})}})
		if len(big) <= maxOCSPResponse {
			break
		}
		pad -= len(big) - maxOCSPResponse
	}
	require.Greater(t, len(big), maxOCSPResponse-8)
	bk, err := k.WithOCSP(big)
	require.NoError(t, err)
	defer bk.Close()
	scfg := serverConfig(t, func(o *ServerOptions) { o.Certificates = []*CertifiedKey{bk} })
	for _, v := range []uint16{VersionTLS12, VersionTLS13} {
		gcfg := goTLSClientConfig(t)
		gcfg.MinVersion, gcfg.MaxVersion = v, v
		r := goClientToServer(t, scfg, gcfg)
		require.NoError(t, r.clientErr, versionNames[v])
		assert.Equal(t, big, r.state.OCSPResponse, versionNames[v])
	}
}

// TestCertifiedKeyWithOCSPCloseRace clones a key on many goroutines while
// another closes it: each clone either fails saying the key is closed or is
// a working key (run with -race; a use after free would crash or be caught
// by the C allocator).
func TestCertifiedKeyWithOCSPCloseRace(t *testing.T) {
	ca, srv, _ := pki(t)
	resp := ocspGood(t, ca, srv.cert)
	var cloned, failed int
	defer func() { t.Logf("%d clones made, %d refused (closed)", cloned, failed) }()
	for round := 0; round < 20; round++ {
		base, err := NewCertifiedKey(srv.certPEM, srv.keyPEM)
		require.NoError(t, err)
		const n = 8
		keys := make([]*CertifiedKey, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				keys[i], errs[i] = base.WithOCSP(resp)
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			base.Close()
		}()
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				failed++
				var e *Error
				require.True(t, errors.As(errs[i], &e))
				assert.Contains(t, e.Detail, "closed")
				continue
			}
			cloned++
			assert.Equal(t, resp, keys[i].OCSPStaple())
		}
		// A surviving clone still serves its staple after its source is
		// gone; close every clone concurrently with that handshake's
		// config build.
		for i := range n {
			if keys[i] == nil {
				continue
			}
			if round%5 == 0 {
				scfg := serverConfig(t, func(o *ServerOptions) { o.Certificates = []*CertifiedKey{keys[i]} })
				r := goClientToServer(t, scfg, goTLSClientConfig(t))
				require.NoError(t, r.clientErr)
				assert.Equal(t, resp, r.state.OCSPResponse)
			}
			keys[i].Close()
			break
		}
		for i := range n {
			if keys[i] != nil {
				keys[i].Close()
			}
		}
	}
}

func TestCertifiedKeyFromTLSCarriesOCSPStaple(t *testing.T) {
	ca, srv, _ := pki(t)
	resp := ocspGood(t, ca, srv.cert)
	tc := srv.tlsCert(t)
	tc.OCSPStaple = resp
	k, err := CertifiedKeyFromTLS(&tc)
	require.NoError(t, err)
	defer k.Close()
	assert.Equal(t, resp, k.OCSPStaple())
	scfg := serverConfig(t, func(o *ServerOptions) { o.Certificates = []*CertifiedKey{k} })
	r := goClientToServer(t, scfg, goTLSClientConfig(t))
	require.NoError(t, r.clientErr)
	assert.Equal(t, resp, r.state.OCSPResponse)

	// Through FromTLS too.
	scfg2, err := ServerConfigFromTLS(&tls.Config{Certificates: []tls.Certificate{tc}}, nil)
	require.NoError(t, err)
	defer scfg2.Close()
	r = goClientToServer(t, scfg2, goTLSClientConfig(t))
	require.NoError(t, r.clientErr)
	assert.Equal(t, resp, r.state.OCSPResponse)

	tc.OCSPStaple = []byte("not DER")
	_, err = CertifiedKeyFromTLS(&tc)
	e := requireCode(t, err, CodeInvalidParameter)
	assert.Contains(t, e.Detail, "tls.Certificate.OCSPStaple")
}
