package rustls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests that errors.As finds crypto/tls's and crypto/x509's own error types
// in gorustls's errors, as code written for crypto/tls expects.

// tlsErrorKinds is what errors.As finds in err, as a metrics or retry
// classifier written for crypto/tls would look for it.
type tlsErrorKinds struct {
	alert        tls.AlertError
	hasAlert     bool
	cve          *tls.CertificateVerificationError
	unknownCA    bool
	invalid      *x509.CertificateInvalidError
	hostname     bool
	unhandledExt bool
}

func classifyTLSError(err error) tlsErrorKinds {
	var k tlsErrorKinds
	k.hasAlert = errors.As(err, &k.alert)
	errors.As(err, &k.cve)
	var uae x509.UnknownAuthorityError
	k.unknownCA = errors.As(err, &uae)
	var cie x509.CertificateInvalidError
	if errors.As(err, &cie) {
		k.invalid = &cie
	}
	var he x509.HostnameError
	k.hostname = errors.As(err, &he)
	var uce x509.UnhandledCriticalExtension
	k.unhandledExt = errors.As(err, &uce)
	// Every error found formats without panicking (x509.HostnameError's
	// Error, for one, dereferences its certificate).
	_ = fmt.Sprint(err, k.alert, uae, cie)
	if k.cve != nil {
		_ = k.cve.Error()
	}
	return k
}

func TestErrorAsTable(t *testing.T) {
	for _, tc := range []struct {
		code      Code
		alert     int // -1: none
		cve       bool
		unknownCA bool
		reason    x509.InvalidReason // -1: no CertificateInvalidError
		ext       bool
	}{
		{CodeCertUnknownIssuer, -1, true, true, -1, false},
		{CodeCertExpired, -1, true, false, x509.Expired, false},
		{CodeCertNotYetValid, -1, true, false, x509.Expired, false},
		{CodeCertInvalidPurpose, -1, true, false, x509.IncompatibleUsage, false},
		{CodeCertUnhandledCriticalExt, -1, true, false, -1, true},
		{CodeCertNotValidForName, -1, true, false, -1, false},
		{CodeCertRevoked, -1, true, false, -1, false},
		{CodeCertBadSignature, -1, true, false, -1, false},
		{CodeCertOther, -1, true, false, -1, false},
		// The callbacks' own errors are not certificate verification
		// errors (as in crypto/tls); a certificate crypto/x509 cannot
		// parse is not one either.
		{CodeCertApplicationFailure, -1, false, false, -1, false},
		{CodeCertEncodingBad, -1, false, false, -1, false},
		{CodeAlertUnknownCA, 48, false, false, -1, false},
		{CodeAlertBadCertificate, 42, false, false, -1, false},
		{CodeAlertCertificateRequired, 116, false, false, -1, false},
		{CodeAlertNoApplicationProto, 120, false, false, -1, false},
		{CodeAlertHandshakeFailure, 40, false, false, -1, false},
		{CodeAlertCloseNotify, -1, false, false, -1, false},
		{CodeAlertUnknown, -1, false, false, -1, false},
		{CodeIO, -1, false, false, -1, false},
		{CodePeerMisbehaved, -1, false, false, -1, false},
	} {
		t.Run(fmt.Sprint(uint32(tc.code)), func(t *testing.T) {
			err := fmt.Errorf("dial backend: %w", &Error{Code: tc.code, Op: "handshake"})
			k := classifyTLSError(err)
			assert.Equal(t, tc.alert >= 0, k.hasAlert, "tls.AlertError")
			if tc.alert >= 0 {
				assert.Equal(t, tls.AlertError(tc.alert), k.alert)
			}
			assert.Equal(t, tc.cve, k.cve != nil, "*tls.CertificateVerificationError")
			if k.cve != nil {
				assert.Nil(t, k.cve.UnverifiedCertificates)
				assert.Contains(t, k.cve.Error(), "tls: failed to verify certificate")
			}
			assert.Equal(t, tc.unknownCA, k.unknownCA, "x509.UnknownAuthorityError")
			assert.Equal(t, tc.reason >= 0, k.invalid != nil, "x509.CertificateInvalidError")
			if k.invalid != nil {
				assert.Equal(t, tc.reason, k.invalid.Reason)
			}
			assert.Equal(t, tc.ext, k.unhandledExt, "x509.UnhandledCriticalExtension")
			assert.False(t, k.hostname, "x509.HostnameError needs the certificate, which rustls does not hand out")
			// The classes still work.
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.code, e.Code)
			if tc.cve {
				assert.ErrorIs(t, err, ErrCertificate)
			}
			if tc.alert >= 0 {
				assert.ErrorIs(t, err, ErrAlertReceived)
			}
		})
	}
}

// Where gorustls refused a certificate it holds, the x509 errors carry it.
func TestErrorAsResumedExpiredClientCertificate(t *testing.T) {
	ca, _, _ := pki(t)
	leaf := ca.leaf(t, leafOpts{client: true, notBefore: time.Now().Add(-2 * time.Hour), notAfter: time.Now().Add(-time.Hour)})
	err := checkResumedClient(RequireAndVerifyClientCert, []*x509.Certificate{leaf.cert, ca.cert}, time.Now())
	require.NotNil(t, err)
	var cie x509.CertificateInvalidError
	require.ErrorAs(t, err, &cie)
	assert.Equal(t, x509.Expired, cie.Reason)
	assert.Same(t, leaf.cert, cie.Cert)
	var cve *tls.CertificateVerificationError
	require.ErrorAs(t, err, &cve)
	require.Len(t, cve.UnverifiedCertificates, 2)
	assert.Same(t, leaf.cert, cve.UnverifiedCertificates[0])
}

// errorsAgainstBothServers runs a gorustls client with ccfg against a
// gorustls server with scfg and a crypto/tls server with gcfg, and returns
// the client's handshake errors (and the gorustls server's).
func errorsAgainstBothServers(t *testing.T, scfg *ServerConfig, gcfg *tls.Config, ccfg *ClientConfig, name string) (vsRustls, vsGo, rustlsServer error) {
	t.Helper()
	_, _, vsRustls, rustlsServer = handshakePair(t, scfg, ccfg, name, StreamOptions{}, StreamOptions{})
	cc, sc := tcpPair(t)
	res := goTLSServe(sc, gcfg)
	c, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), cc, name)
	if c != nil {
		c.Close()
	}
	r := <-res
	r.c.Close()
	return vsRustls, err, rustlsServer
}

func TestErrorAsUnknownAuthority(t *testing.T) {
	other := newTestCA(t, "some other CA")
	ccfg := clientConfig(t, func(o *ClientOptions) { o.RootCAs = other.certPEM })
	vsRustls, vsGo, srvErr := errorsAgainstBothServers(t, serverConfig(t, nil), goTLSServerConfig(t), ccfg, "localhost")
	for name, err := range map[string]error{"gorustls server": vsRustls, "crypto/tls server": vsGo} {
		t.Run(name, func(t *testing.T) {
			requireCode(t, err, CodeCertUnknownIssuer)
			var cve *tls.CertificateVerificationError
			require.ErrorAs(t, err, &cve)
			var uae x509.UnknownAuthorityError
			require.ErrorAs(t, err, &uae)
			assert.ErrorAs(t, cve, &uae, "the x509 error is CertificateVerificationError's Err")
			assert.Contains(t, uae.Error(), "unknown authority")
			assert.ErrorIs(t, err, ErrCertificate)
		})
	}
	// The server receives the client's alert.
	var ae tls.AlertError
	require.ErrorAs(t, srvErr, &ae)
	assert.Equal(t, tls.AlertError(48), ae, "unknown_ca")
	assert.Equal(t, "tls: unknown certificate authority", ae.Error())
	assert.ErrorIs(t, srvErr, ErrAlertReceived)
	// A crypto/tls client refusing a gorustls server: its alert too.
	gcli := goTLSClientConfig(t)
	gcli.RootCAs = other.pool()
	r := goClientToServer(t, serverConfig(t, nil), gcli)
	require.Error(t, r.clientErr)
	ae = 0
	require.ErrorAs(t, r.serverErr, &ae)
	assert.Equal(t, tls.AlertError(42), ae, "crypto/tls sends bad_certificate")
}

func TestErrorAsExpiredAndNotYetValid(t *testing.T) {
	ca, _, _ := pki(t)
	for name, o := range map[string]leafOpts{
		"expired":       {notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)},
		"not yet valid": {notBefore: time.Now().Add(time.Hour), notAfter: time.Now().Add(48 * time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			leaf := ca.leaf(t, o, "localhost")
			scfg := serverConfig(t, func(so *ServerOptions) { so.Certificates = []*CertifiedKey{leaf.certifiedKey(t)} })
			gcfg := &tls.Config{Certificates: []tls.Certificate{leaf.tlsCert(t)}}
			vsRustls, vsGo, srvErr := errorsAgainstBothServers(t, scfg, gcfg, clientConfig(t, nil), "localhost")
			for _, err := range []error{vsRustls, vsGo} {
				require.Error(t, err)
				var cve *tls.CertificateVerificationError
				require.ErrorAs(t, err, &cve)
				var cie x509.CertificateInvalidError
				require.ErrorAs(t, err, &cie)
				assert.Equal(t, x509.Expired, cie.Reason)
				assert.Contains(t, cie.Error(), "x509: certificate has expired or is not yet valid")
				assert.ErrorIs(t, err, ErrCertificate)
			}
			var ae tls.AlertError
			require.ErrorAs(t, srvErr, &ae)
			assert.Equal(t, tls.AlertError(45), ae, "certificate_expired")
		})
	}
}

// A name mismatch is a CertificateVerificationError, but not an
// x509.HostnameError: rustls does not hand out the refused certificate
// that HostnameError's Error method needs.
func TestErrorAsNameMismatch(t *testing.T) {
	vsRustls, vsGo, _ := errorsAgainstBothServers(t, serverConfig(t, nil), goTLSServerConfig(t), clientConfig(t, nil), "wrong.example")
	for _, err := range []error{vsRustls, vsGo} {
		requireCode(t, err, CodeCertNotValidForName)
		var cve *tls.CertificateVerificationError
		require.ErrorAs(t, err, &cve)
		assert.Contains(t, cve.Error(), "NotValidForName")
		var he x509.HostnameError
		assert.False(t, errors.As(err, &he))
	}
}

func TestErrorAsAlertReceived(t *testing.T) {
	t.Run("no_application_protocol", func(t *testing.T) {
		scfg := serverConfig(t, func(o *ServerOptions) { o.NextProtos = []string{"h2"} })
		gcfg := goTLSServerConfig(t)
		gcfg.NextProtos = []string{"h2"}
		ccfg := clientConfig(t, func(o *ClientOptions) { o.NextProtos = []string{"acme/1"} })
		vsRustls, vsGo, _ := errorsAgainstBothServers(t, scfg, gcfg, ccfg, "localhost")
		for _, err := range []error{vsRustls, vsGo} {
			var ae tls.AlertError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tls.AlertError(120), ae)
			assert.ErrorIs(t, err, ErrAlertReceived)
			var cve *tls.CertificateVerificationError
			assert.False(t, errors.As(err, &cve))
		}
	})
	t.Run("certificate_required", func(t *testing.T) {
		// TLS 1.3: the client's handshake ends first; the server's
		// alert arrives on the client's first read.
		ca, _, _ := pki(t)
		scfg := serverConfig(t, func(o *ServerOptions) {
			o.ClientAuth = RequireAndVerifyClientCert
			o.ClientCAs = ca.certPEM
		})
		gcfg := goTLSServerConfig(t)
		gcfg.ClientAuth = tls.RequireAndVerifyClientCert
		gcfg.ClientCAs = ca.pool()
		ccfg := clientConfig(t, func(o *ClientOptions) { o.Versions = []uint16{VersionTLS13} })

		c, _, cerr, serr := handshakePair(t, scfg, ccfg, "localhost", StreamOptions{}, StreamOptions{})
		require.NoError(t, cerr)
		requireCode(t, serr, CodeNoCertificatesPresented)
		_, rerr := readWithin(c, make([]byte, 1), 10*time.Second)

		cc, sc := tcpPair(t)
		res := goTLSServe(sc, gcfg)
		gc, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), cc, "localhost")
		require.NoError(t, err)
		defer gc.Close()
		r := <-res
		require.Error(t, r.err)
		r.c.Close()
		_, grerr := readWithin(gc, make([]byte, 1), 10*time.Second)

		for _, err := range []error{rerr, grerr} {
			var ae tls.AlertError
			require.ErrorAs(t, err, &ae, "%v", err)
			assert.Equal(t, tls.AlertError(116), ae)
		}
	})
}
