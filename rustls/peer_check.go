package rustls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"runtime/debug"
	"sync"
	"time"
)

// peerCheck is what a config tells its streams about the peer: how to
// rebuild, with crypto/x509, the chain rustls verified (VerifiedChains),
// and the VerifyConnection hook. One per config, shared by its streams
// (through configLife), immutable once built.
type peerCheck struct {
	// verified: rustls verifies the peer's chain against roots we know.
	// False under DangerousVerifyPeerCertificate and on a server that
	// does not ask for client certificates.
	verified bool
	// roots returns the trusted CAs as a pool, built on first use; nil
	// roots means the system's (SystemRoots).
	roots func() *x509.CertPool
	// usage is the extended key usage the peer's leaf is verified for.
	usage x509.ExtKeyUsage
	// verifyConn is ClientOptions/ServerOptions.VerifyConnection.
	verifyConn func(tls.ConnectionState) error
	// cache holds the peer chains seen lately (peer_cache.go).
	cache peerCache
}

// newPeerCheck describes a config whose peer rustls verifies against the
// CAs in pems (system roots when pems is empty and system is set).
func newPeerCheck(pems [][]byte, system bool, usage x509.ExtKeyUsage, hook func(tls.ConnectionState) error) *peerCheck {
	pc := &peerCheck{verified: len(pems) > 0 || system, usage: usage, verifyConn: hook}
	if len(pems) > 0 {
		pc.roots = sync.OnceValue(func() *x509.CertPool {
			p := x509.NewCertPool()
			for _, b := range pems {
				p.AppendCertsFromPEM(b)
			}
			return p
		})
	}
	return pc
}

// chainSource is what rebuilding one connection's verified chains needs;
// it is computed at most once, on first use (stateCache.verifiedChains).
type chainSource struct {
	check *peerCheck
	certs []*x509.Certificate // the peer's chain, end entity first
	name  string              // client: the server name rustls checked
	at    time.Time           // when the handshake completed
	entry *peerEntry          // the chain's cache entry, if any

	once   sync.Once
	chains [][]*x509.Certificate
}

// verifiedChains rebuilds, with crypto/x509, the chains from the peer's
// leaf to the configured roots, as of the handshake's end. nil when
// crypto/x509 refuses a chain rustls accepted: a chain is never reported
// that crypto/x509 did not build and check itself.
func (c *chainSource) verifiedChains() [][]*x509.Certificate {
	if c == nil {
		return nil
	}
	c.once.Do(func() {
		if c.entry != nil {
			if chains, ok := c.entry.lookup(c.name, c.at); ok {
				c.chains = chains
				return
			}
		}
		opts := x509.VerifyOptions{
			DNSName:     c.name,
			CurrentTime: c.at,
			KeyUsages:   []x509.ExtKeyUsage{c.check.usage},
		}
		if c.check.roots != nil {
			opts.Roots = c.check.roots()
		}
		for _, ic := range c.certs[1:] {
			// A self-issued certificate (subject = issuer), usually a
			// root the peer sent along, is left out: as an intermediate
			// it costs crypto/x509 one more signature check per
			// connection. (A key-rollover chain through a self-issued
			// certificate gets no VerifiedChains: nil, never a wrong one.)
			if bytes.Equal(ic.RawSubject, ic.RawIssuer) {
				continue
			}
			if opts.Intermediates == nil {
				opts.Intermediates = x509.NewCertPool()
			}
			opts.Intermediates.AddCert(ic)
		}
		if chains, err := c.certs[0].Verify(opts); err == nil {
			c.chains = chains
			if c.entry != nil {
				c.entry.store(c.name, chains)
			}
		}
	})
	return c.chains
}

// runVerifyConnection runs the user's VerifyConnection hook under recover:
// a refusal or a panic is a handshake error that names the hook.
func runVerifyConnection(hook func(tls.ConnectionState) error, st tls.ConnectionState) (err *Error) {
	const op = "handshake"
	defer func() {
		if v := recover(); v != nil {
			err = &Error{Code: CodeCertApplicationFailure, Op: op,
				Err: &PanicError{Callback: "VerifyConnection", Value: v, Stack: debug.Stack()}}
		}
	}()
	if e := hook(st); e != nil {
		return &Error{Code: CodeCertApplicationFailure, Op: op, Detail: "VerifyConnection refused the connection", Err: e}
	}
	return nil
}

// stapled returns the OCSP response the custom verifier accepted (nil when
// none was stapled, or rustls verified the server itself).
func (cb *connCallbacks) stapled() []byte {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return cb.ocsp
}
