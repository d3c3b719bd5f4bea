package rustlsgrpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"google.golang.org/grpc/credentials"
)

// alpnH2 is the only application protocol gRPC speaks over TLS.
const alpnH2 = "h2"

// Credentials are gRPC transport credentials over gorustls. One value is
// either client or server credentials (see NewClientCredentials and
// NewServerCredentials). Safe for concurrent use: SetClientConfig and
// OverrideServerName may be called while connections are being made (a
// handshake uses the values current when it starts).
type Credentials struct {
	server *rustls.ServerConfig
	client atomic.Pointer[rustls.ClientConfig]
	// serverName overrides the authority's host as the name checked in
	// the server's certificate (OverrideServerName); "" means none.
	serverName atomic.Pointer[string]
	opts       rustls.StreamOptions
}

var _ credentials.TransportCredentials = (*Credentials)(nil)

// NewServerCredentials returns server credentials that accept with cfg.
// cfg must offer "h2" in ServerOptions.NextProtos; every handshake fails
// with an error saying so otherwise. A client that offers ALPN without h2
// is refused by rustls (no_application_protocol); one that offers no ALPN
// at all is refused after the handshake, as grpc-go does by default.
func NewServerCredentials(cfg *rustls.ServerConfig) *Credentials {
	return &Credentials{server: cfg, opts: rustls.StreamOptions{WriteThrough: true}}
}

// NewClientCredentials returns client credentials that connect with cfg.
// cfg must offer "h2" in ClientOptions.NextProtos; every handshake fails
// with an error saying so otherwise. The server name checked against the
// server's certificate is the host of the authority grpc dials, or the
// name given to OverrideServerName.
func NewClientCredentials(cfg *rustls.ClientConfig) *Credentials {
	c := &Credentials{opts: rustls.StreamOptions{WriteThrough: true}}
	c.client.Store(cfg)
	return c
}

// SetClientConfig replaces the client config atomically (certificate
// rotation): connections made afterwards use cfg, connections already
// made keep theirs, and grpc's connection pool is left alone. The caller
// may close the old config once no handshake can still be using it.
func (c *Credentials) SetClientConfig(cfg *rustls.ClientConfig) { c.client.Store(cfg) }

// ClientHandshake runs the TLS client handshake over rawConn for
// authority ("host:port" or "host"), bounded by ctx. On failure rawConn is
// closed and the error is the *rustls.Error (or the context's error).
func (c *Credentials) ClientHandshake(ctx context.Context, authority string, rawConn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	cfg := c.client.Load()
	if cfg == nil {
		_ = rawConn.Close()
		return nil, nil, errors.New("rustlsgrpc: client handshake with server credentials (use NewClientCredentials)")
	}
	if !slices.Contains(cfg.NextProtos(), alpnH2) {
		_ = rawConn.Close()
		return nil, nil, fmt.Errorf("rustlsgrpc: the ClientConfig does not offer ALPN %q (set ClientOptions.NextProtos); gRPC needs HTTP/2", alpnH2)
	}
	name := c.override()
	if name == "" {
		name = authority
		if h, _, err := net.SplitHostPort(authority); err == nil {
			name = h
		}
	}
	s, err := rustls.NewConnector(cfg, c.opts).Connect(ctx, rawConn, name)
	if err != nil {
		return nil, nil, err
	}
	return c.finish(s)
}

// serverHandshakeTimeout bounds ServerHandshake as a whole, user callbacks
// (GetCertificate, VerifyConnection, a SessionStore) included: grpc's
// deadline on rawConn bounds only I/O. It is grpc's default
// ConnectionTimeout.
var serverHandshakeTimeout = 120 * time.Second

// ServerHandshake runs the TLS server handshake over rawConn. grpc bounds
// its I/O with a deadline on rawConn (grpc.ConnectionTimeout, 120 s by
// default); the handshake as a whole, a stuck user callback included, is
// abandoned after 120 s. On failure rawConn is closed.
func (c *Credentials) ServerHandshake(rawConn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if c.server == nil {
		_ = rawConn.Close()
		return nil, nil, errors.New("rustlsgrpc: server handshake with client credentials (use NewServerCredentials)")
	}
	if !slices.Contains(c.server.NextProtos(), alpnH2) {
		_ = rawConn.Close()
		return nil, nil, fmt.Errorf("rustlsgrpc: the ServerConfig does not offer ALPN %q (set ServerOptions.NextProtos); gRPC needs HTTP/2", alpnH2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), serverHandshakeTimeout)
	defer cancel()
	s, err := rustls.NewAcceptor(c.server, c.opts).Accept(ctx, rawConn)
	if err != nil {
		return nil, nil, err
	}
	return c.finish(s)
}

// finish checks that h2 was negotiated and builds the AuthInfo.
func (c *Credentials) finish(s *rustls.Stream) (net.Conn, credentials.AuthInfo, error) {
	st := s.ConnectionState()
	if st.NegotiatedProtocol != alpnH2 {
		_ = s.Close()
		return nil, nil, fmt.Errorf("rustlsgrpc: the peer did not negotiate ALPN %q (got %q); gRPC needs HTTP/2 over TLS", alpnH2, st.NegotiatedProtocol)
	}
	info := credentials.TLSInfo{State: st, CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}
	if len(st.PeerCertificates) > 0 {
		info.SPIFFEID = spiffeID(st.PeerCertificates[0].URIs)
	}
	return s, info, nil
}

// spiffeID returns the leaf's SPIFFE ID when it has exactly one spiffe://
// URI SAN, as grpc-go's TLS credentials do; nil otherwise.
func spiffeID(uris []*url.URL) *url.URL {
	var id *url.URL
	for _, u := range uris {
		if u == nil || u.Scheme != "spiffe" {
			continue
		}
		if id != nil || u.Host == "" {
			return nil
		}
		id = u
	}
	return id
}

// Info reports "tls" as the security protocol, and the override name.
func (c *Credentials) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls", SecurityVersion: "1.2", ServerName: c.override()}
}

// override returns the name set by OverrideServerName, or "".
func (c *Credentials) override() string {
	if p := c.serverName.Load(); p != nil {
		return *p
	}
	return ""
}

// Clone returns credentials sharing the same configs (which are immutable
// and safe to share) with their own server-name override.
func (c *Credentials) Clone() credentials.TransportCredentials {
	n := &Credentials{server: c.server, opts: c.opts}
	n.client.Store(c.client.Load())
	n.serverName.Store(c.serverName.Load())
	return n
}

// OverrideServerName sets the name checked against the server's
// certificate (and sent as SNI) instead of the authority's host. grpc
// documents it as deprecated: prefer grpc.WithAuthority. A name that is
// not a DNS name or IP address fails at the handshake with
// rustls.CodeInvalidDNSName.
func (c *Credentials) OverrideServerName(name string) error {
	c.serverName.Store(&name)
	return nil
}
