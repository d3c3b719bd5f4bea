package rustls

import (
	"crypto/tls"

	"github.com/gorustls/gorustls/cgo"
)

// Protocol versions, the same values as crypto/tls.
const (
	VersionTLS12 = tls.VersionTLS12
	VersionTLS13 = tls.VersionTLS13
)

// Version returns librustls's version string, rustls_version(): for example
// "rustls-ffi/0.15.7/rustls/0.23.46/aws-lc-rs".
func Version() string { return cgo.Version() }

// HeaderVersion returns the rustls-ffi version of the C header gorustls was
// compiled against (always 0.15.x).
func HeaderVersion() (major, minor, patch int) {
	return cgo.HeaderVersionMaj, cgo.HeaderVersionMin, cgo.HeaderVersionPat
}

// BuildProvider names the crypto provider this build selects through build
// tags: "aws-lc-rs" by default, "ring" with the gorustls_ring tag.
func BuildProvider() string { return cgo.ProviderName }

func versionName(v uint16) string {
	switch v {
	case VersionTLS12:
		return "TLS 1.2"
	case VersionTLS13:
		return "TLS 1.3"
	}
	return tls.VersionName(v)
}

// CertificateCompression reports whether librustls was built with rustls's
// certificate compression (RFC 8879, brotli and zlib), as its pkg-config
// file declares: the bundled build always is. In TLS 1.3 such a build
// compresses the server's certificate chain (and a client certificate)
// whenever the peer offers to decompress it, and offers decompression as
// a client; rustls-ffi
// has no switch to turn it off per config. Peers without support (crypto/tls,
// OpenSSL before 3.2) simply get the chain uncompressed. A system librustls
// found through RUSTLS=system reports false unless its rustls.pc defines
// GORUSTLS_LIBRUSTLS_CERT_COMPRESSION.
func CertificateCompression() bool { return cgo.CertCompression }
