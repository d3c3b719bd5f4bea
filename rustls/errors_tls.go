package rustls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
)

// As lets errors.As find, in an *Error, the crypto/tls and crypto/x509
// error types that code written for crypto/tls looks for:
//
//   - tls.AlertError: the alert number of a fatal alert received from the
//     peer (ErrAlertReceived; the same number as Alert returns).
//   - *tls.CertificateVerificationError: the peer's certificate was
//     refused (codes 7122-7129, 7131, 7154, 7156, 7157: expired, unknown
//     issuer, wrong name, revoked, ...). Its Err holds the crypto/x509 type
//     below when there is one, else an error with rustls's text.
//   - x509.UnknownAuthorityError: unknown issuer (CodeCertUnknownIssuer).
//   - x509.CertificateInvalidError: Reason x509.Expired for an expired or
//     not yet valid certificate (CodeCertExpired, CodeCertNotYetValid, as
//     crypto/x509 reports both), x509.IncompatibleUsage for
//     CodeCertInvalidPurpose.
//   - x509.UnhandledCriticalExtension for CodeCertUnhandledCriticalExt.
//
// rustls does not hand out the certificates of a chain it refused, so
// UnverifiedCertificates and the Cert fields are nil, except where
// gorustls itself refused a certificate it holds (a resumed session whose
// client certificate expired). For the same reason a name mismatch
// (CodeCertNotValidForName) is NOT an x509.HostnameError, whose Error
// method needs the certificate: it is a *tls.CertificateVerificationError
// whose Err says the certificate is not valid for the name.
// Errors returned by callbacks (DangerousVerifyPeerCertificate,
// VerifyConnection, CodeCertApplicationFailure) are not wrapped in
// CertificateVerificationError, as in crypto/tls: errors.As reaches them
// and their own types through Unwrap.
func (e *Error) As(target any) bool {
	switch t := target.(type) {
	case *tls.AlertError:
		if e.Code == CodeAlertCloseNotify {
			return false // not a failure
		}
		if n, ok := e.Alert(); ok {
			*t = tls.AlertError(n)
			return true
		}
	case **tls.CertificateVerificationError:
		if cause := e.x509Cause(); cause != nil {
			*t = &tls.CertificateVerificationError{UnverifiedCertificates: e.peer, Err: cause}
			return true
		}
	case *x509.UnknownAuthorityError, *x509.CertificateInvalidError, *x509.UnhandledCriticalExtension:
		if cause := e.x509Cause(); cause != nil {
			return errors.As(cause, target)
		}
	}
	return false
}

// x509Cause returns the crypto/x509 form of a refusal of the peer's
// certificate, or nil when the error is not one.
func (e *Error) x509Cause() error {
	var leaf *x509.Certificate
	if len(e.peer) > 0 {
		leaf = e.peer[0]
	}
	switch e.Code {
	case CodeCertUnknownIssuer:
		return x509.UnknownAuthorityError{Cert: leaf}
	case CodeCertExpired:
		return x509.CertificateInvalidError{Cert: leaf, Reason: x509.Expired, Detail: "rustls reports it expired"}
	case CodeCertNotYetValid:
		return x509.CertificateInvalidError{Cert: leaf, Reason: x509.Expired, Detail: "rustls reports it not valid yet"}
	case CodeCertInvalidPurpose:
		return x509.CertificateInvalidError{Cert: leaf, Reason: x509.IncompatibleUsage}
	case CodeCertUnhandledCriticalExt:
		return x509.UnhandledCriticalExtension{}
	case CodeCertNotValidForName, CodeCertRevoked, CodeCertBadSignature, CodeCertOther, 7154, 7156, 7157:
		return errors.New(e.Code.String())
	}
	return nil
}
