package rustls

import (
	"bytes"
	"encoding/asn1"
	"fmt"
)

// opOCSP names the operation in WithOCSP's errors.
const opOCSP = "add an OCSP response to a certified key"

// maxOCSPResponse is the largest staple that fits TLS 1.3: the response
// travels in the extensions of a CertificateEntry (at most 65535 bytes),
// after the extension's type and length (four bytes) and the status type
// and response length (four more).
const maxOCSPResponse = 65535 - 8

// WithOCSP returns a new CertifiedKey with k's certificate chain and
// private key and the DER OCSP response to staple. A server config built
// with the new key (in ServerOptions.Certificates, or returned by
// GetCertificate) sends the response to every client that asks for one
// (the status_request extension): in the Certificate message under TLS
// 1.3, in a CertificateStatus message under TLS 1.2. Clients that do not
// ask get none.
//
// The response is copied. gorustls checks only that it is a well-formed
// DER OCSPResponse with status "successful" and a basic response, of at
// most 65527 bytes (what TLS 1.3 can carry); it does not check its
// signature, its freshness or that it is about this certificate: the
// server staples exactly what it is given, so refresh it (call WithOCSP
// again with the new response, then swap the configs or the key
// GetCertificate returns) before it expires. A bad response gives an
// *Error with errors.Is(err, ErrInvalidInput) saying what is wrong.
//
// k is unchanged and keeps its own lifetime: the caller owns the returned
// key, which is independent of k, and Closes it (each key is freed once
// nothing uses it any more). WithOCSP is safe to call concurrently with
// anything, Close included; on a closed k it returns an error.
func (k *CertifiedKey) WithOCSP(response []byte) (*CertifiedKey, error) {
	if err := checkOCSPResponse(response); err != nil {
		return nil, err
	}
	c, ok := k.acquire()
	if !ok {
		return nil, &Error{Code: CodeInvalidParameter, Op: opOCSP, Detail: "the certified key is closed (or was not made by NewCertifiedKey)"}
	}
	// The reference keeps the C key alive across the clone even if Close
	// runs meanwhile on another goroutine.
	defer k.r.release()
	nc, err := c.CloneWithOCSP(response)
	if err != nil {
		return nil, fromCgo(err)
	}
	return wrapCertifiedKey(nc, k.leaf, bytes.Clone(response)), nil
}

// OCSPStaple returns a copy of the OCSP response the key staples (see
// WithOCSP), or nil when it staples none.
func (k *CertifiedKey) OCSPStaple() []byte {
	if k == nil {
		return nil
	}
	return bytes.Clone(k.ocsp)
}

// ocspResponseDER is RFC 6960's OCSPResponse.
type ocspResponseDER struct {
	Status        asn1.Enumerated
	ResponseBytes ocspResponseBytesDER `asn1:"explicit,tag:0,optional"`
}

type ocspResponseBytesDER struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

// oidOCSPBasic is id-pkix-ocsp-basic, the only response type TLS clients
// understand.
var oidOCSPBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}

var ocspStatusNames = map[asn1.Enumerated]string{
	1: "malformedRequest", 2: "internalError", 3: "tryLater", 5: "sigRequired", 6: "unauthorized",
}

// checkOCSPResponse is WithOCSP's sanity check (see its doc).
func checkOCSPResponse(b []byte) error {
	bad := func(format string, args ...any) error {
		return &Error{Code: CodeInvalidParameter, Op: opOCSP, Detail: fmt.Sprintf(format, args...)}
	}
	if len(b) == 0 {
		return bad("the OCSP response is empty")
	}
	if len(b) > maxOCSPResponse {
		return bad("the OCSP response is %d bytes; TLS 1.3 carries at most %d", len(b), maxOCSPResponse)
	}
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")) {
		return bad("the OCSP response is PEM; give its DER bytes")
	}
	var r ocspResponseDER
	rest, err := asn1.Unmarshal(b, &r)
	if err != nil {
		return &Error{Code: CodeInvalidParameter, Op: opOCSP, Detail: "the OCSP response is not a DER OCSPResponse", Err: err}
	}
	if len(rest) > 0 {
		return bad("the OCSP response has %d bytes of trailing data after the DER OCSPResponse", len(rest))
	}
	if r.Status != 0 {
		name := ocspStatusNames[r.Status]
		if name == "" {
			name = "unknown"
		}
		return bad("the OCSP response's status is %s (%d), not successful: there is nothing to staple", name, int(r.Status))
	}
	if r.ResponseBytes.ResponseType == nil {
		return bad("the OCSP response says successful but holds no response")
	}
	if !r.ResponseBytes.ResponseType.Equal(oidOCSPBasic) {
		return bad("the OCSP response's type is %v, not a basic OCSP response (%v)", r.ResponseBytes.ResponseType, oidOCSPBasic)
	}
	var basic asn1.RawValue
	if rest, err := asn1.Unmarshal(r.ResponseBytes.Response, &basic); err != nil || len(rest) > 0 ||
		basic.Class != asn1.ClassUniversal || basic.Tag != asn1.TagSequence || !basic.IsCompound {
		return &Error{Code: CodeInvalidParameter, Op: opOCSP, Detail: "the OCSP response's basic response is not a DER SEQUENCE", Err: err}
	}
	return nil
}
