// Package pki makes throw-away certificates in memory: a certificate
// authority that issues server and client leaves of several key types,
// and certificate revocation lists. The examples, the gorustls command and
// the tests share it. It deals only in PEM, DER, crypto/x509 and crypto/tls
// values (it must not import the rustls package, whose tests use packages
// that import this one). Never use such certificates outside tests and
// demonstrations.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
)

// KeyType names a key algorithm and size.
type KeyType string

// The key types GenerateKey knows.
const (
	P256    KeyType = "p256"    // ECDSA on NIST P-256 (the default)
	P384    KeyType = "p384"    // ECDSA on NIST P-384
	RSA2048 KeyType = "rsa2048" // RSA, 2048-bit modulus
	RSA4096 KeyType = "rsa4096" // RSA, 4096-bit modulus (slow to generate)
	Ed25519 KeyType = "ed25519" // Ed25519
)

// KeyTypes lists every KeyType, in a fixed order.
var KeyTypes = []KeyType{P256, P384, RSA2048, RSA4096, Ed25519}

// GenerateKey makes a new private key of type kt; the empty KeyType means
// P256.
func GenerateKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case P256, "":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case P384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("pki: unknown key type %q", kt)
}

// EncodePEM wraps der in one PEM block of type typ (such as "CERTIFICATE",
// "PRIVATE KEY" or "X509 CRL").
func EncodePEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
