package rustls

import (
	"crypto/x509"
	"testing"
)

// BenchmarkStateVerifiedChains: what the first ConnectionState call of a
// connection pays to rebuild VerifiedChains with crypto/x509 (a P-256
// leaf and its CA). Handshakes themselves do not pay it
// (BenchmarkHandshake) unless a VerifyConnection hook is set.
func BenchmarkStateVerifiedChains(b *testing.B) {
	ca, srv, _ := pki(b)
	pc := newPeerCheck([][]byte{ca.certPEM}, false, x509.ExtKeyUsageServerAuth, nil)
	certs := []*x509.Certificate{srv.cert, ca.cert}
	pc.roots() // built once per config
	b.ReportAllocs()
	for b.Loop() {
		cs := &chainSource{check: pc, certs: certs, name: "localhost", at: srv.cert.NotBefore.Add(1)}
		if len(cs.verifiedChains()) != 1 {
			b.Fatal("no chain")
		}
	}
}
