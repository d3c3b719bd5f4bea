package rustls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"
)

type stateCache struct {
	tls       tls.ConnectionState // VerifiedChains left out: see chains
	groupName string
	suiteName string
	kind      int
	chains    *chainSource // nil: no VerifiedChains to report
}

// connState returns the state with VerifiedChains filled in (computed on
// first use).
func (c *stateCache) connState() tls.ConnectionState {
	st := c.tls
	st.VerifiedChains = c.chains.verifiedChains()
	return st
}

// HandshakeKind says how a completed handshake went.
type HandshakeKind int

// Handshake kinds, as rustls reports them.
const (
	HandshakeUnknown                   HandshakeKind = 0
	HandshakeFull                      HandshakeKind = 1
	HandshakeFullWithHelloRetryRequest HandshakeKind = 2
	HandshakeResumed                   HandshakeKind = 3
)

// ConnectionState returns the negotiated parameters in crypto/tls's form:
// Version, CipherSuite, CurveID (the key-exchange group), NegotiatedProtocol
// (ALPN), ServerName (SNI), PeerCertificates, VerifiedChains, OCSPResponse
// and DidResume. net/http uses it to fill Request.TLS. Before the
// handshake completes, or after it failed, it returns a zero state with
// HandshakeComplete false. It does no I/O, never runs the handshake, and
// is safe to call from any goroutine, concurrently with Read, Write and
// Close (after Close it still reports the completed handshake).
//
// PeerCertificates is the peer's chain exactly as rustls verified it, end
// entity first (on a resumed connection: as verified when the session was
// made); a peer whose chain crypto/x509 cannot parse fails the handshake
// with CodeCertEncodingBad rather than being reported with a shorter list.
// As in crypto/tls, connections that received the same certificate share
// one *x509.Certificate: treat them as read-only.
//
// VerifiedChains are the chains from the peer's certificate to a trusted
// CA, rebuilt and checked by crypto/x509 (x509.Certificate.Verify) from
// PeerCertificates and the config's roots (client: RootCAs, RootCAFiles,
// or the system pool for SystemRoots; server: ClientCAs, ClientCAFiles),
// as of the moment the handshake ended, for the server name (client side)
// and for server or client authentication (extended key usage). They
// exist only where rustls verified the peer against those roots: they are
// nil under ClientOptions.DangerousVerifyPeerCertificate, on a server that
// does not ask for client certificates, and when the client sent none.
// They are also nil in the rare case that crypto/x509 refuses a chain
// rustls accepted (crypto/x509 and rustls's webpki differ in some corner
// cases): a chain crypto/x509 has not checked itself is never reported.
// They are computed once per connection, on the first ConnectionState
// call (or at the handshake's end when a VerifyConnection hook is set), so
// connections that never ask pay nothing.
//
// OCSPResponse (client side) is the server's stapled OCSP response, only
// under ClientOptions.DangerousVerifyPeerCertificate: rustls-ffi 0.15
// hands the staple to a custom verifier only, never when rustls verifies
// with RootCAs, RootCAFiles or SystemRoots (then it is nil whether or not
// the server stapled one). It is nil on resumed connections too. A server
// Stream's OCSPResponse is always nil, as in crypto/tls.
//
// The returned state's ExportKeyingMaterial method PANICS: a
// tls.ConnectionState made outside crypto/tls has no exporter, and
// rustls-ffi 0.15 offers none. Call Stream.ExportKeyingMaterial instead,
// which returns an error.
func (s *Stream) ConnectionState() tls.ConnectionState {
	if c := s.stateSnapshot(); c != nil {
		return c.connState()
	}
	return tls.ConnectionState{}
}

// KeyExchangeGroup returns the negotiated key-exchange group's name as
// rustls reports it (for example "X25519MLKEM768").
func (s *Stream) KeyExchangeGroup() string {
	if c := s.stateSnapshot(); c != nil {
		return c.groupName
	}
	return ""
}

// CipherSuiteName returns rustls's name of the negotiated suite.
func (s *Stream) CipherSuiteName() string {
	if c := s.stateSnapshot(); c != nil {
		return c.suiteName
	}
	return ""
}

// HandshakeKind reports whether the handshake was full, full with a
// HelloRetryRequest, or resumed: HandshakeUnknown before the handshake has
// completed or when it failed. Like ConnectionState, KeyExchangeGroup and
// CipherSuiteName (which return "" then), it never blocks and is safe to
// call concurrently with Read, Write and Close.
func (s *Stream) HandshakeKind() HandshakeKind {
	if c := s.stateSnapshot(); c != nil {
		return HandshakeKind(c.kind)
	}
	return HandshakeUnknown
}

func (s *Stream) stateSnapshot() *stateCache {
	if !s.hsDone.Load() || s.hsErr != nil {
		return nil
	}
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.state
}

// settleState runs once rustls reports the handshake complete, before
// anything more is sent: it builds the connection state and checks the
// peer identity it will report. Every certificate of the peer's chain must
// parse with crypto/x509 (as crypto/tls requires), so that
// PeerCertificates is exactly the chain rustls verified, end entity first:
// dropping one that does not parse would shift the list and put another
// certificate in the leaf's place. A server also refuses a resumed session
// that a full handshake would refuse now: no client certificate although
// its config requires one, or an expired client certificate. Last, the
// config's VerifyConnection hook runs (no lock held but the handshake's). A
// failure is fatal and is returned; the flight rustls queued (Finished, tickets) is
// then never sent, so the peer's handshake fails too, or its first read
// does when its own handshake had already ended.
func (s *Stream) settleState(ctx, hctx context.Context) error {
	st, ders, ok := s.k.state()
	if !ok {
		return closedErr("handshake")
	}
	c := &stateCache{groupName: st.GroupName, suiteName: st.SuiteName, kind: st.HandshakeKind}
	c.tls = tls.ConnectionState{
		Version:            st.Version,
		HandshakeComplete:  true,
		DidResume:          st.HandshakeKind == int(HandshakeResumed),
		CipherSuite:        st.Suite,
		CurveID:            tls.CurveID(st.Group),
		NegotiatedProtocol: st.ALPN,
		ServerName:         st.ServerName,
	}
	if !s.server {
		c.tls.ServerName = s.serverName
	}
	pc := s.k.life.peer
	var certs []*x509.Certificate
	var entry *peerEntry
	var err *Error
	if pc != nil {
		certs, entry, err = pc.cache.parse(ders)
	} else {
		certs, err = parsePeerChain(ders)
	}
	if err == nil && s.server && c.tls.DidResume {
		err = checkResumedClient(s.k.clientAuth, certs, time.Now())
	}
	if err != nil {
		s.setFatal(err)
		return err
	}
	if entry != nil {
		// The certificates are shared with other connections (immutable);
		// the slice is this connection's own.
		certs = append([]*x509.Certificate(nil), certs...)
	}
	c.tls.PeerCertificates = certs
	if pc != nil && pc.verified && len(certs) > 0 {
		c.chains = &chainSource{check: pc, certs: certs, at: time.Now(), entry: entry}
		if !s.server {
			c.chains.name = s.serverName
		}
	}
	if !s.server {
		c.tls.OCSPResponse = s.cb.stapled()
	}
	if pc != nil && pc.verifyConn != nil {
		// User code: marked as this connection's callback, and waited
		// for only until hctx ends (see awaitUser).
		var verr *Error
		st := c.connState()
		if !awaitUser(hctx, func() {
			defer s.cb.leave(s.cb.enter())
			verr = runVerifyConnection(pc.verifyConn, st)
		}, nil) {
			return s.abandonErr(ctx)
		}
		if verr != nil {
			s.setFatal(verr)
			return verr
		}
	}
	s.stateMu.Lock()
	s.state = c
	s.stateMu.Unlock()
	return nil
}

// parsePeerChain parses the peer's chain (DER, end entity first); any
// certificate crypto/x509 refuses fails the handshake. Certificates come
// from peerCerts, shared with the other connections that saw the same
// bytes; ders must not be modified afterwards.
func parsePeerChain(ders [][]byte) ([]*x509.Certificate, *Error) {
	if len(ders) == 0 {
		return nil, nil
	}
	certs := make([]*x509.Certificate, 0, len(ders))
	for i, der := range ders {
		cert, err := peerCerts.parse(der)
		if err != nil {
			what := "end-entity certificate"
			if i > 0 {
				what = fmt.Sprintf("certificate %d in the chain", i)
			}
			return nil, &Error{Code: CodeCertEncodingBad, Op: "handshake",
				Detail: "rustls accepted the peer's " + what + ", but crypto/x509 cannot parse it, so its identity cannot be reported",
				Err:    err}
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

// checkResumedClient refuses, on a server, a resumed session whose client
// a full handshake with the config (client-auth mode auth) would refuse
// now. Stored sessions are already bound to the policy that made them
// (policyStore); this also covers rustls's own per-config cache.
func checkResumedClient(auth ClientAuth, certs []*x509.Certificate, now time.Time) *Error {
	const op = "handshake"
	if len(certs) == 0 {
		if auth == RequireAndVerifyClientCert {
			return &Error{Code: CodeNoCertificatesPresented, Op: op,
				Detail: "the resumed session carries no client certificate, and this config requires one"}
		}
		return nil
	}
	switch leaf := certs[0]; {
	case now.After(leaf.NotAfter):
		return &Error{Code: CodeCertExpired, Op: op,
			Detail: "the client certificate of the resumed session expired at " + leaf.NotAfter.UTC().Format(time.RFC3339), peer: certs}
	case now.Before(leaf.NotBefore):
		return &Error{Code: CodeCertNotYetValid, Op: op,
			Detail: "the client certificate of the resumed session is not valid before " + leaf.NotBefore.UTC().Format(time.RFC3339), peer: certs}
	}
	return nil
}
