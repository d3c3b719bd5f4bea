package rustls

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/gorustls/gorustls/cgo"
)

// Code is a rustls-ffi result code (rustls_result). Its String method gives
// rustls-ffi's description.
type Code uint32

// String returns rustls-ffi's fixed text for the code.
func (c Code) String() string { return cgo.ResultText(uint32(c)) }

// Result codes that callers commonly test for. The full list is rustls-ffi's
// rustls_result: 7000-7020 local conditions, 71xx rustls and certificate
// errors, 72xx alerts received, 74xx CRL errors, 76xx inconsistent keys,
// 77xx ECH.
const (
	CodeOK                        Code = 7000
	CodeIO                        Code = 7001
	CodeInvalidDNSName            Code = 7003
	CodeCertificateParse          Code = 7005
	CodePrivateKeyParse           Code = 7006
	CodeNotFound                  Code = 7008
	CodeInvalidParameter          Code = 7009
	CodeUnexpectedEOF             Code = 7010
	CodeNoServerCertVerifier      Code = 7015
	CodeIncompatibleTLSVersions   Code = 7020
	CodeNoCertificatesPresented   Code = 7101
	CodeDecryptError              Code = 7102
	CodePeerIncompatible          Code = 7107
	CodePeerMisbehaved            Code = 7108
	CodeInappropriateMessage      Code = 7109
	CodeInappropriateHandshake    Code = 7110
	CodeGeneral                   Code = 7112
	CodeNoApplicationProtocol     Code = 7106
	CodeCertEncodingBad           Code = 7121 // also: crypto/x509 cannot parse a certificate rustls accepted
	CodeCertExpired               Code = 7122
	CodeCertNotYetValid           Code = 7123
	CodeCertRevoked               Code = 7124
	CodeCertUnhandledCriticalExt  Code = 7125
	CodeCertUnknownIssuer         Code = 7126
	CodeCertBadSignature          Code = 7127
	CodeCertNotValidForName       Code = 7128
	CodeCertInvalidPurpose        Code = 7129
	CodeCertApplicationFailure    Code = 7130
	CodeCertOther                 Code = 7131
	CodeMessageInvalidContentType Code = 7135
	CodeAlertCloseNotify          Code = 7200
	CodeAlertHandshakeFailure     Code = 7206
	CodeAlertBadCertificate       Code = 7208
	CodeAlertCertificateRevoked   Code = 7210
	CodeAlertCertificateExpired   Code = 7211
	CodeAlertUnknownCA            Code = 7214
	CodeAlertDecryptError         Code = 7217
	CodeAlertProtocolVersion      Code = 7219
	CodeAlertInternalError        Code = 7221
	CodeAlertCertificateRequired  Code = 7232
	CodeAlertNoApplicationProto   Code = 7233
	CodeAlertUnknown              Code = 7234
	CodeCRLParse                  Code = 7405
	CodeCRLInvalid                Code = 7014 // rustls-ffi could not read a CRL's PEM
	CodeKeysMismatch              Code = 7600
	CodeKeysUnknown               Code = 7601
	CodeECHInvalidConfigList      Code = 7700
)

// Error classes for errors.Is. An *Error matches the class its code belongs
// to; wrapped causes (transport errors, context errors) match too.
var (
	// ErrCertificate: a certificate was rejected (ours or the peer's).
	ErrCertificate = errors.New("rustls: certificate error")
	// ErrAlertReceived: the peer sent a fatal TLS alert.
	ErrAlertReceived = errors.New("rustls: alert received")
	// ErrIO: the transport failed.
	ErrIO = errors.New("rustls: I/O error")
	// ErrCRL: a certificate revocation list could not be used.
	ErrCRL = errors.New("rustls: CRL error")
	// ErrInvalidInput: a configuration input was malformed or inconsistent.
	ErrInvalidInput = errors.New("rustls: invalid input")
	// ErrProtocol: the peer broke the TLS protocol (garbage, bad records).
	ErrProtocol = errors.New("rustls: protocol error")
)

// Error is a failure reported by rustls or by gorustls around it. Besides
// the classes (Is) and the cause (Unwrap), errors.As finds in it the
// crypto/tls and crypto/x509 error types that apply (tls.AlertError,
// *tls.CertificateVerificationError, x509.UnknownAuthorityError,
// x509.CertificateInvalidError; see As).
type Error struct {
	Code   Code   // rustls-ffi result code
	Op     string // what was being done: "handshake", "build server config", ...
	Detail string // which input was at fault, when known
	Err    error  // underlying cause (transport error, context error), if any

	// peer is the peer's chain when gorustls itself refused a certificate
	// it holds (CertificateVerificationError's UnverifiedCertificates).
	peer []*x509.Certificate
}

// Error returns "rustls: OP: TEXT (DETAIL): CAUSE".
func (e *Error) Error() string {
	s := "rustls: " + e.Op
	if e.Code != 0 && e.Code != CodeOK && !(e.Code == CodeIO && e.Err != nil) {
		s += ": " + e.Code.String()
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the error classes (ErrCertificate, ErrAlertReceived, ErrIO,
// ErrCRL, ErrInvalidInput, ErrProtocol), io.ErrUnexpectedEOF for
// truncation, and another *Error with the same Code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrCertificate:
		return e.IsCertificateError()
	case ErrAlertReceived:
		return e.Code >= 7200 && e.Code < 7300
	case ErrIO:
		return e.Code == CodeIO
	case ErrCRL:
		return e.Code == CodeCRLInvalid || (e.Code >= 7400 && e.Code < 7500)
	case ErrInvalidInput:
		return e.invalidInput()
	case ErrProtocol:
		return e.Code >= 7102 && e.Code < 7200 && !e.IsCertificateError()
	case io.ErrUnexpectedEOF:
		return e.Code == CodeUnexpectedEOF
	}
	if t, ok := target.(*Error); ok {
		return t.Code == e.Code
	}
	return false
}

// IsCertificateError reports whether the code is a certificate error.
func (e *Error) IsCertificateError() bool {
	return cgo.IsCertError(uint32(e.Code)) || (e.Code >= 7121 && e.Code <= 7131) || (e.Code >= 7154 && e.Code <= 7157)
}

// Alert returns the TLS alert description number of a received alert and
// true, or 0 and false when the error is not a received alert.
func (e *Error) Alert() (uint8, bool) {
	if e.Code < 7200 || e.Code > 7233 {
		return 0, false
	}
	return alertNumbers[e.Code-7200], true
}

// alertNumbers maps 7200+i to the alert's wire value (RFC 8446 6).
var alertNumbers = [...]uint8{0, 10, 20, 21, 22, 30, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 60, 70,
	71, 80, 86, 90, 100, 109, 110, 111, 112, 113, 114, 115, 116, 120}

func (e *Error) invalidInput() bool {
	switch e.Code {
	case CodeCertificateParse, CodePrivateKeyParse, CodeInvalidParameter, CodeInvalidDNSName,
		CodeIncompatibleTLSVersions, CodeKeysMismatch, CodeKeysUnknown, CodeNotFound,
		CodeNoServerCertVerifier, CodeECHInvalidConfigList, CodeCRLInvalid, 7500, 7701, 7702, 7016, 7018, 7019:
		return true
	}
	return e.Code >= 7400 && e.Code < 7500
}

// fromCgo turns a cgo-layer error into an *Error; other errors pass through.
func fromCgo(err error) error {
	var ce *cgo.Error
	if errors.As(err, &ce) {
		return &Error{Code: Code(ce.Code), Op: ce.Op, Detail: ce.Detail}
	}
	return err
}

func inputErr(op, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidParameter, Op: op, Detail: fmt.Sprintf(format, args...)}
}
