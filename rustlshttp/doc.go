// Package rustlshttp serves and fetches HTTPS with gorustls: a Server that
// speaks HTTP/1.1 and HTTP/2 (chosen by ALPN) over rustls Streams, and a
// Transport (an http.RoundTripper) that does the same on the client side.
//
// net/http only switches to HTTP/2 by itself for *tls.Conn, so both sides
// check the negotiated ALPN protocol themselves and hand "h2" connections
// to golang.org/x/net/http2.
package rustlshttp
