package rustls

import (
	"crypto/tls"
	"crypto/x509"
)

type stateCache struct {
	tls       tls.ConnectionState
	groupName string
	suiteName string
	kind      int
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
// (ALPN), ServerName (SNI), PeerCertificates and DidResume. net/http uses
// it to fill Request.TLS. Before the handshake completes it returns a zero
// state with HandshakeComplete false.
func (s *Stream) ConnectionState() tls.ConnectionState {
	if c := s.stateSnapshot(); c != nil {
		return c.tls
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
// HelloRetryRequest, or resumed.
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
	if s.state != nil {
		return s.state
	}
	st, ders, ok := s.k.state()
	if !ok {
		return nil
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
	for _, der := range ders {
		if cert, err := x509.ParseCertificate(der); err == nil {
			c.tls.PeerCertificates = append(c.tls.PeerCertificates, cert)
		}
	}
	s.state = c
	return c
}
