// Package rustlshttp serves and fetches HTTPS with gorustls: a Server that
// speaks HTTP/1.1 and HTTP/2 (chosen by ALPN) over rustls Streams, and a
// Transport (an http.RoundTripper) that does the same on the client side.
//
// net/http only switches to HTTP/2 by itself for *tls.Conn, so both sides
// check the negotiated ALPN protocol themselves. The Server hands every
// connection to one net/http server and presents those that chose "h2" as
// connections net/http serves with its own HTTP/2 server (its unencrypted
// HTTP/2 path, over the TLS Stream), so that every http.Server setting
// applies to both protocols. The Transport hands "h2" connections to
// golang.org/x/net/http2.
package rustlshttp
