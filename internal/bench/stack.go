package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
)

// Conn is an established TLS connection as the workloads use it. Flush
// sends buffered ciphertext (a no-op for stacks that do not buffer).
// *rustls.Stream implements it.
type Conn interface {
	net.Conn
	Flush() error
	ConnectionState() tls.ConnectionState
}

// KeyType names the server certificate's key.
type KeyType string

// Server key types.
const (
	KeyP256    KeyType = "ECDSA P-256"
	KeyRSA2048 KeyType = "RSA 2048"
)

// Params are one scenario's TLS parameters and how its connections write.
type Params struct {
	Version uint16  // tls.VersionTLS12 or tls.VersionTLS13
	Suite   uint16  // cipher suite (IANA ID); 0 leaves the stacks' default
	Key     KeyType // server certificate key
	// Resume lets servers issue session tickets/IDs and clients cache
	// them. Without it, servers do not resume (full handshakes only).
	Resume bool
	// WriteThrough makes both ends send every Write at once (gorustls's
	// StreamOptions.WriteThrough; crypto/tls's own Write), Flush having
	// nothing left to send. Without it both ends gather Writes of up to
	// FlushEvery bytes until Flush, the way a Go program batches small
	// writes: gorustls's default buffered Stream, crypto/tls behind a
	// bufio.Writer of FlushEvery bytes. A buffered crypto/tls connection
	// holds that 64 KiB buffer for its whole life, so workloads that count
	// memory or connection set-up (handshakes, idle memory) write through.
	WriteThrough bool
}

// String describes the parameters, e.g. "TLS1.3 AES-128-GCM ECDSA P-256,
// write-through".
func (p Params) String() string {
	s := VersionName(p.Version)
	if p.Suite != 0 {
		s += " " + SuiteName(p.Suite)
	}
	return s + " " + string(p.Key) + ", " + WriteModeName(p.WriteThrough)
}

// WriteModeName names a write mode as reports do: "write-through", or
// "Flush every 64 KiB" for buffered writes.
func WriteModeName(writeThrough bool) string {
	if writeThrough {
		return "write-through"
	}
	return "Flush every " + sizeName(FlushEvery)
}

// Endpoints make connections of one stack with one set of parameters.
// Server and Client run the handshake over an established transport and
// return the connection once it completes; on failure they close conn.
type Endpoints struct {
	Server func(ctx context.Context, conn net.Conn) (Conn, error)
	Client func(ctx context.Context, conn net.Conn) (Conn, error)
	// Close releases the configurations.
	Close func()
	// NativeHeap, if set, returns the C heap in use process-wide (bytes),
	// and TrimNative returns the C heap's free memory to the OS: the
	// memory workload calls it next to debug.FreeOSMemory. Stacks written
	// in Go leave both nil.
	NativeHeap func() int64
	TrimNative func()
}

// Stack is one TLS implementation.
type Stack struct {
	// Name is how reports name the stack ("gorustls", "crypto/tls").
	Name string
	// Version describes the implementation (library version).
	Version string
	// Configure builds the configurations for p from the shared PKI. The
	// connections it makes must honour p.WriteThrough (see Params).
	Configure func(pki *PKI, p Params) (*Endpoints, error)
	// Calls, if set, counts the stack's C calls (cgo) process-wide.
	Calls func() uint64
	// ServeHTTP, if set, serves h with the stack's HTTPS server on ln
	// (TLS with p's version, suite and key, ALPN "h2" and "http/1.1", and
	// session resumption when p.Resume) until stop is called; stop closes
	// ln and every connection. The http workloads need it.
	ServeHTTP func(pki *PKI, p Params, ln net.Listener, h http.Handler) (stop func(), err error)
}

// VersionName returns "TLS1.2" or "TLS1.3".
func VersionName(v uint16) string {
	switch v {
	case tls.VersionTLS12:
		return "TLS1.2"
	case tls.VersionTLS13:
		return "TLS1.3"
	}
	return fmt.Sprintf("version 0x%04x", v)
}

// SuiteName returns a short name of a cipher suite, e.g. "AES-128-GCM".
func SuiteName(id uint16) string {
	switch id {
	case tls.TLS_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:
		return "AES-128-GCM"
	case tls.TLS_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return "AES-256-GCM"
	case tls.TLS_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
		return "ChaCha20-Poly1305"
	}
	return tls.CipherSuiteName(id)
}

// closeConn closes c when it is non-nil.
func closeConn(c net.Conn) {
	if c != nil {
		_ = c.Close()
	}
}
