package rustls

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"sync"
	"time"

	"github.com/gorustls/gorustls/cgo"
)

// The ClientHello path must refuse a ClientHello with the alert a plain
// rustls server sends for it. Two places differ in rustls 0.23.46 /
// rustls-ffi 0.15.7:
//
//   - rustls's Acceptor answers every malformed ClientHello with
//     decode_error, where a server connection sends illegal_parameter for a
//     duplicated extension or a pre_shared_key that is not last, and it
//     sends nothing for a first record that is not a handshake record
//     (application data, ChangeCipherSpec, an oversized record) where a
//     server connection sends unexpected_message. The refused bytes are
//     therefore replayed into a plain server connection (refusals happen
//     before any config-dependent step, so any config answers the same)
//     and its answer is sent instead.
//   - rustls-ffi's certificate chooser finds no certificate when the
//     client shares no cipher suite (or no signature scheme) with the
//     server, and rustls answers that with access_denied; RFC 8446 4.1.1
//     asks for handshake_failure, which is also what rustls sends with a
//     single fixed certificate.

// refusalConfig is a server config with a throw-away certificate, used only
// to learn a plain server's answer to refused bytes. The certificate is
// never sent: the replay stops at the refusal.
var refusalConfig = sync.OnceValue(func() *ServerConfig {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "gorustls refusal replay"},
		DNSNames:     []string{"refusal.invalid"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(100 * 365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil
	}
	k, err := NewCertifiedKey(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	if err != nil {
		return nil
	}
	defer k.Close()
	cfg, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{k}})
	if err != nil {
		return nil
	}
	return cfg
})

// plainServerRefusal feeds in (and EOF when eof) to a plain server
// connection and returns what it sends and its error code. ok is false
// when that connection does not refuse the bytes, or answers with anything
// but alerts; the caller then keeps the Acceptor's answer.
func plainServerRefusal(in []byte, eof bool) (out []byte, code Code, ok bool) {
	cfg := refusalConfig()
	if cfg == nil || (len(in) == 0 && !eof) {
		return nil, 0, false
	}
	// The config lives as long as the process: no reference to take.
	c, err := cgo.NewServerConn(cfg.c)
	if err != nil {
		return nil, 0, false
	}
	defer c.Free()
	r := c.Feed(in, eof)
	if r.Result == cgo.ResultOK {
		return nil, 0, false
	}
	var b [512]byte
	for len(out) < 4096 {
		d := c.Drain(cgo.NoFD, b[:], cgo.QueueNone)
		if d.Out == 0 {
			break
		}
		out = append(out, b[:d.Out]...)
	}
	if !onlyAlerts(out) {
		return nil, 0, false
	}
	return out, Code(r.Result), true
}

// onlyAlerts reports whether b is a sequence of whole alert records.
func onlyAlerts(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 7 || b[0] != 21 || b[3] != 0 || b[4] != 2 {
			return false
		}
		b = b[7:]
	}
	return true
}

// noCommonParameters turns rustls's access_denied for "no certificate
// chosen" into handshake_failure: rustls-ffi's chooser finds none exactly
// when no offered cipher suite and signature scheme suits the server's
// certificates, which RFC 8446 4.1.1 answers with handshake_failure.
func noCommonParameters(out []byte, err error) ([]byte, error) {
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeGeneral {
		return out, err
	}
	accessDenied := []byte{21, 3, 3, 0, 2, 2, AlertAccessDenied}
	if !bytes.Equal(out, accessDenied) {
		return out, err
	}
	return []byte{21, 3, 3, 0, 2, 2, AlertHandshakeFailure}, &Error{Code: CodePeerIncompatible, Op: e.Op,
		Detail: "the client offers no cipher suite and signature scheme usable with the server's certificates"}
}
