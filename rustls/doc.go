// Package rustls is TLS for Go services on top of rustls, through the C
// library rustls-ffi (librustls).
//
// The shape follows tokio-rustls:
//
//   - A [ServerConfig] or [ClientConfig] is built once from options, is
//     immutable and safe for concurrent use, and owns its C handle.
//   - An [Acceptor] (server side) or [Connector] (client side) runs the
//     handshake over any [net.Conn] and returns a [Stream].
//   - A [Stream] is a [net.Conn]. Write hands plaintext to rustls, which
//     encrypts it into an outgoing buffer; [Stream.Flush] sends what is
//     buffered, the way [bufio.Writer] works, unless the Stream is
//     write-through (every Write sent at once, as on a plain net.Conn).
//
// Buffering, in one rule: everything that hands a Stream to generic
// net.Conn code ([Listener], [LazyListener], [Dialer], [Dial],
// [DialContext], and so rustlshttp and rustlsgrpc) makes it write-through,
// while [Acceptor], [LazyAcceptor], [Connector] and
// [StartHandshake.IntoStream] follow [StreamOptions.WriteThrough].
//
// Names follow crypto/tls where the behaviour matches: [Stream.Handshake],
// [Stream.HandshakeContext], [Stream.ConnectionState], [Stream.CloseWrite],
// [Stream.NetConn]; Listener and LazyListener hand out handshaken *Stream
// values from Accept.
//
// Errors from rustls are *[Error] values: errors.As gives the rustls-ffi
// result code, and errors.Is matches the classes [ErrCertificate],
// [ErrAlertReceived], [ErrIO], [ErrCRL] and [ErrInvalidInput].
//
// The package itself has no cgo: the C calls live in
// github.com/gorustls/gorustls/cgo.
package rustls
