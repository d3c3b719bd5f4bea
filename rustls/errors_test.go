package rustls

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrorFormat(t *testing.T) {
	cause := errors.New("connection reset")
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{Code: CodeCertExpired, Op: "handshake"}, "rustls: handshake: " + CodeCertExpired.String()},
		{&Error{Code: CodeInvalidParameter, Op: "build server config", Detail: "ALPN protocol 0 is empty"},
			"rustls: build server config: " + CodeInvalidParameter.String() + " (ALPN protocol 0 is empty)"},
		// An I/O error with a cause says what the cause says, not rustls's
		// generic I/O text.
		{&Error{Code: CodeIO, Op: "read", Err: cause}, "rustls: read: connection reset"},
		{&Error{Code: CodeIO, Op: "read certificate file", Detail: "/x.pem", Err: cause}, "rustls: read certificate file (/x.pem): connection reset"},
		{&Error{Code: CodeCertApplicationFailure, Op: "handshake", Err: cause},
			"rustls: handshake: " + CodeCertApplicationFailure.String() + ": connection reset"},
	} {
		assert.Equal(t, tc.want, tc.err.Error())
	}
	assert.NotEmpty(t, CodeCertRevoked.String())
	assert.Contains(t, CodeCertRevoked.String(), "Revoked")
	assert.NotEqual(t, CodeCertRevoked.String(), CodeCertExpired.String())
}

// TestErrorClasses checks errors.Is for every class against a
// representative set of codes.
func TestErrorClasses(t *testing.T) {
	classes := []error{ErrCertificate, ErrAlertReceived, ErrIO, ErrCRL, ErrInvalidInput, ErrProtocol, io.ErrUnexpectedEOF}
	for _, tc := range []struct {
		code Code
		want []error
	}{
		{CodeCertExpired, []error{ErrCertificate}},
		{CodeCertNotYetValid, []error{ErrCertificate}},
		{CodeCertRevoked, []error{ErrCertificate}},
		{CodeCertUnknownIssuer, []error{ErrCertificate}},
		{CodeCertBadSignature, []error{ErrCertificate}},
		{CodeCertNotValidForName, []error{ErrCertificate}},
		{CodeCertApplicationFailure, []error{ErrCertificate}},
		{CodeAlertCloseNotify, []error{ErrAlertReceived}},
		{CodeAlertBadCertificate, []error{ErrAlertReceived}},
		{CodeAlertUnknownCA, []error{ErrAlertReceived}},
		{CodeAlertUnknown, []error{ErrAlertReceived}},
		{CodeIO, []error{ErrIO}},
		{CodeCRLParse, []error{ErrCRL, ErrInvalidInput}},
		{CodeCertificateParse, []error{ErrInvalidInput}},
		{CodePrivateKeyParse, []error{ErrInvalidInput}},
		{CodeKeysMismatch, []error{ErrInvalidInput}},
		{CodeNoServerCertVerifier, []error{ErrInvalidInput}},
		{CodeIncompatibleTLSVersions, []error{ErrInvalidInput}},
		{CodeECHInvalidConfigList, []error{ErrInvalidInput}},
		{CodeInvalidDNSName, []error{ErrInvalidInput}},
		{CodePeerMisbehaved, []error{ErrProtocol}},
		{CodeMessageInvalidContentType, []error{ErrProtocol}},
		{CodeDecryptError, []error{ErrProtocol}},
		{CodeUnexpectedEOF, []error{io.ErrUnexpectedEOF}},
	} {
		e := &Error{Code: tc.code, Op: "test"}
		for _, class := range classes {
			want := false
			for _, w := range tc.want {
				want = want || w == class
			}
			assert.Equal(t, want, errors.Is(e, class), "code %d (%s) vs %v", tc.code, tc.code, class)
		}
		// Wrapped, the classes still match.
		wrapped := fmt.Errorf("outer: %w", e)
		for _, w := range tc.want {
			assert.ErrorIs(t, wrapped, w)
		}
		assert.True(t, errors.Is(wrapped, &Error{Code: tc.code}), "an *Error target matches by code")
		assert.False(t, errors.Is(wrapped, &Error{Code: tc.code + 1000}))
	}
}

func TestErrorAsAndUnwrap(t *testing.T) {
	cause := context.DeadlineExceeded
	var err error = fmt.Errorf("dial backend: %w", &Error{Code: CodeIO, Op: "handshake", Err: cause})
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, CodeIO, e.Code)
	assert.Equal(t, "handshake", e.Op)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the cause is reachable")
	assert.ErrorIs(t, err, ErrIO)
	assert.Equal(t, cause, e.Unwrap())
	assert.Nil(t, (&Error{Code: CodeCertExpired}).Unwrap())
}

func TestErrorAlert(t *testing.T) {
	for code, want := range map[Code]uint8{
		CodeAlertCloseNotify:         0,
		CodeAlertHandshakeFailure:    40,
		CodeAlertBadCertificate:      42,
		CodeAlertCertificateRevoked:  44,
		CodeAlertCertificateExpired:  45,
		CodeAlertUnknownCA:           48,
		codeAlertAccessDenied:        49,
		CodeAlertDecryptError:        51,
		CodeAlertProtocolVersion:     70,
		CodeAlertInternalError:       80,
		CodeAlertCertificateRequired: 116,
		CodeAlertNoApplicationProto:  120,
	} {
		n, ok := (&Error{Code: code}).Alert()
		assert.True(t, ok, "code %d", code)
		assert.Equal(t, want, n, "code %d (%s)", code, code)
	}
	for _, code := range []Code{CodeAlertUnknown, CodeCertExpired, CodeIO, 7199, 7300} {
		_, ok := (&Error{Code: code}).Alert()
		assert.False(t, ok, "code %d", code)
	}
}

// TestErrorsFromRealFailures checks the class and code of errors that real
// failures produce, end to end.
func TestErrorsFromRealFailures(t *testing.T) {
	t.Run("expired server certificate", func(t *testing.T) {
		ca := newTestCA(t, "expiry CA")
		l := ca.leaf(t, leafOpts{notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)}, "localhost")
		scfg := serverConfig(t, func(o *ServerOptions) { o.Certificates = []*CertifiedKey{l.certifiedKey(t)} })
		c, s := tryPair(t, scfg, clientConfig(t, func(o *ClientOptions) { o.RootCAs = ca.certPEM }), "localhost")
		e := requireCode(t, c.err, CodeCertExpired)
		assert.True(t, e.IsCertificateError())
		assert.ErrorIs(t, c.err, ErrCertificate)
		assert.Equal(t, "handshake", e.Op)
		e = requireCode(t, s.err, CodeAlertCertificateExpired)
		assert.ErrorIs(t, e, ErrAlertReceived)
		assert.False(t, e.IsCertificateError(), "a received alert is not our certificate error")
	})
	t.Run("garbage from the server", func(t *testing.T) {
		cc, sc := tcpPair(t)
		go func() {
			_, _ = sc.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			_, _ = io.Copy(io.Discard, sc)
		}()
		_, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(testCtx(t), cc, "localhost")
		sc.Close()
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrProtocol)
		assert.NotErrorIs(t, err, ErrCertificate)
	})
	t.Run("server hangs up during the handshake", func(t *testing.T) {
		cc, sc := tcpPair(t)
		go func() {
			// Read the whole ClientHello record (so that closing sends FIN,
			// not RST), then hang up.
			hdr := make([]byte, 5)
			if _, err := io.ReadFull(sc, hdr); err == nil {
				_, _ = io.ReadFull(sc, make([]byte, int(hdr[3])<<8|int(hdr[4])))
			}
			sc.Close()
		}()
		_, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(testCtx(t), cc, "localhost")
		require.Error(t, err)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, CodeUnexpectedEOF, e.Code)
	})
	t.Run("handshake deadline", func(t *testing.T) {
		cc, sc := tcpPair(t)
		defer sc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(ctx, cc, "localhost")
		assert.ErrorIs(t, err, ErrIO)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := LoadCertifiedKey("/nonexistent/cert.pem", "/nonexistent/key.pem")
		assert.ErrorIs(t, err, fs.ErrNotExist)
		assert.ErrorIs(t, err, ErrIO)
		var pe *fs.PathError
		assert.ErrorAs(t, err, &pe)
		assert.Contains(t, err.Error(), "/nonexistent/cert.pem")
	})
	t.Run("invalid server name", func(t *testing.T) {
		cc, sc := tcpPair(t)
		defer sc.Close()
		for _, name := range []string{"", "not a name!", "bad..name"} {
			_, err := NewConnector(clientConfig(t, nil), StreamOptions{}).ConnectFallible(testCtx(t), cc, name)
			e := requireCode(t, err, CodeInvalidDNSName)
			assert.ErrorIs(t, err, ErrInvalidInput)
			if name != "" {
				assert.Contains(t, e.Error(), name)
			}
		}
	})
}
