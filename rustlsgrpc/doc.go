// Package rustlsgrpc provides gRPC transport credentials backed by gorustls,
// for google.golang.org/grpc: grpc.Creds(rustlsgrpc.NewServerCredentials(cfg))
// on a server and grpc.WithTransportCredentials(rustlsgrpc.NewClientCredentials(cfg))
// on a client.
//
// The credentials behave as grpc-go's own TLS credentials
// (credentials.NewTLS) do: the handshake honours the context (client) or
// the connection deadline grpc sets (server); ALPN "h2" must be negotiated
// (a config that does not offer it is refused at the handshake with an
// error saying so, and a peer that does not select it fails the
// handshake); the AuthInfo is a credentials.TLSInfo with the stream's
// tls.ConnectionState, SecurityLevel PrivacyAndIntegrity and, when the
// peer's certificate carries exactly one spiffe:// URI, its SPIFFEID, so
// peer.FromContext, credentials.RequireInfo-style checks and authorization
// interceptors work unchanged. The net.Conn handed to grpc is the
// *rustls.Stream, write-through.
//
// The configs are used, not owned: keep them open while the credentials
// (and their clones) make connections, and close them afterwards.
package rustlsgrpc
