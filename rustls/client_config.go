package rustls

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/gorustls/gorustls/cgo"
)

// PeerVerifier is a custom server-certificate check for
// ClientOptions.DangerousVerifyPeerCertificate. serverName is the name
// given to Connect; rawCerts holds the server's chain in DER, end entity
// first; ocspResponse is the stapled OCSP response, if any. Returning nil
// accepts the server; an error fails the handshake with an *Error
// (CodeCertApplicationFailure, ErrCertificate) that wraps it, so errors.Is
// and errors.As reach it. It runs during the handshake on the handshaking
// goroutine, must be safe for concurrent use, and a panic in it refuses the
// server: that handshake fails with an *Error wrapping a *PanicError naming
// DangerousVerifyPeerCertificate, and the config keeps working. The TLS
// signature check (that the server holds the key) is still done by rustls.
// Like crypto/tls's VerifyPeerCertificate it is not called for a resumed
// connection: the session was made by a full handshake of the same config,
// which this function accepted.
type PeerVerifier func(serverName string, rawCerts [][]byte, ocspResponse []byte) error

// ClientOptions lists what a client config is built from. Exactly one way
// of verifying servers is needed: RootCAs/RootCAFiles, SystemRoots, or
// DangerousVerifyPeerCertificate.
type ClientOptions struct {
	// RootCAs is a PEM bundle of trusted CAs (one or more CERTIFICATE
	// blocks; other content is an error).
	RootCAs []byte
	// RootCAFiles are PEM files of trusted CAs, read at build time; added
	// to RootCAs.
	RootCAFiles []string
	// SystemRoots verifies with rustls-platform-verifier: the operating
	// system's verifier and trust store (on Linux, the system CA bundle).
	// A server with a certificate from a private CA is refused.
	SystemRoots bool
	// CRLs are certificate revocation lists (each one or more PEM "X509
	// CRL" blocks) checked for server certificates; they need RootCAs or
	// RootCAFiles. A revoked server certificate fails the handshake with
	// CodeCertRevoked (ErrCertificate). With CRLs given, every CA that
	// issues certificates in the server's chain needs its CRL here: a
	// certificate whose revocation status is unknown is refused.
	CRLs [][]byte
	// DangerousVerifyPeerCertificate replaces all certificate verification
	// with this function. Named so nobody uses it by accident: a function
	// that does not verify leaves the connection open to interception.
	// Streams then report no VerifiedChains, and their OCSPResponse is the
	// staple this function accepted (the only way rustls-ffi hands it out).
	DangerousVerifyPeerCertificate PeerVerifier
	// VerifyConnection, if set, runs at the end of every handshake, full
	// or resumed, AFTER rustls's own verification of the server succeeded
	// (it is an extra check, never a replacement), with the connection's
	// state as ConnectionState reports it: PeerCertificates,
	// VerifiedChains (nil under DangerousVerifyPeerCertificate), ALPN,
	// version and so on. Use it for identity checks beyond the server name,
	// such as a SPIFFE ID in the leaf's URI SANs. A non-nil error fails the
	// handshake with an *Error (CodeCertApplicationFailure, ErrCertificate)
	// that wraps it, before the client's last flight is sent, so no
	// application data flows; the server then sees its handshake (or its
	// first read) fail, without an alert (rustls-ffi cannot send one on
	// our behalf). A panic fails the handshake with an error naming
	// VerifyConnection. It runs on the handshaking goroutine and must be
	// safe for concurrent use. Like crypto/tls's VerifyConnection, it runs
	// on resumed connections too (their PeerCertificates are those
	// verified when the session was made).
	VerifyConnection func(tls.ConnectionState) error

	// Certificate is the client certificate for mutual TLS, sent when a
	// server asks for one. The config keeps its own reference: the key may
	// be closed once the config is built (a key closed before is an error).
	//
	// In TLS 1.3 the client finishes its handshake before the server has
	// checked the client's certificate: a server that refuses it (none
	// sent, or not from its CAs) is seen on the client's first Read, as an
	// *Error matching ErrAlertReceived (certificate_required or
	// bad_certificate), not by Dial or Handshake. crypto/tls behaves the
	// same; in TLS 1.2 the handshake itself fails.
	Certificate *CertifiedKey
	// NextProtos are the ALPN protocols to offer, in preference order (the
	// server chooses). Each protocol must be 1 to 255 bytes.
	NextProtos []string
	// DisableSNI stops sending the server name (SNI) in the ClientHello.
	// The server's certificate is still verified against the name given to
	// Connect. (IP addresses are never sent as SNI.)
	DisableSNI bool
	// Versions are the TLS versions to enable: VersionTLS12, VersionTLS13
	// or both (nil: both). Other versions are an error.
	Versions []uint16
	// Provider is the crypto provider (nil: DefaultProvider). A closed
	// Provider is an error.
	Provider *Provider
	// CipherSuites restricts the provider to these suites (IANA IDs, the
	// crypto/tls constants), in this order of preference. An ID the
	// provider does not offer is an error, and at least one suite must be
	// usable with Versions.
	CipherSuites []uint16
	// KeyLogWriter receives TLS secrets in NSS key log format, one Write
	// per line; see ServerOptions.KeyLogWriter (the same 256-config limit).
	KeyLogWriter io.Writer
	// KeyLogFromEnv appends secrets to the file named by SSLKEYLOGFILE as
	// read at build time (nothing when unset). Ignored when KeyLogWriter is
	// set. The file is made private as for ServerOptions.KeyLogFromEnv
	// (created 0600, an existing one tightened, a CodeIO error otherwise).
	KeyLogFromEnv bool
	// ECHConfigList enables Encrypted Client Hello with this ECHConfigList
	// (the TLS encoding, as published in DNS HTTPS records). It needs TLS
	// 1.3 in Versions; a list rustls cannot use is an error
	// (CodeECHInvalidConfigList). ECH needs a provider with HPKE suites:
	// aws-lc-rs has them; with the ring provider (the gorustls_ring build)
	// the build fails with an ErrInvalidInput error (code 7019) saying the
	// crypto provider offers no HPKE suites.
	ECHConfigList []byte
	// ECHGrease sends a GREASE ECH extension when
	// ECHConfigList is unset, so that real ECH use does not stand out. It
	// needs TLS 1.3 in Versions and, as ECHConfigList, a provider with HPKE
	// suites; servers ignore it.
	ECHGrease bool
}

// ClientConfig is an immutable, built client configuration, safe for
// concurrent use. It keeps rustls's in-memory session cache (256 server
// names), so connections made from the same config resume sessions
// (Stream.HandshakeKind() == HandshakeResumed); the cache is the config's
// own, so a session never lets a server skip the verification of another
// config. A resumed connection does not check the server's certificate
// again, not even its expiry (crypto/tls refuses to resume once it has
// expired): it resumes for as long as the server accepts the session (a
// TLS 1.3 ticket lives at most 7 days). TLS 1.3 tickets arrive
// after the handshake: a connection stores them only once it has read
// something from the server. Close releases its C handle (streams already
// made keep working; new ones fail with an error saying the config is
// closed); a cleanup releases it if the config becomes unreachable.
type ClientConfig struct {
	c          *cgo.ClientConfig
	life       *configLife
	verify     PeerVerifier
	nextProtos []string
	once       sync.Once
	cleanup    runtime.Cleanup
}

// NewClientConfig builds a client config; bad options give an *Error that
// names the field and what is wrong (errors.Is(err, ErrInvalidInput); ErrCRL
// for CRLs; ErrIO and fs.ErrNotExist and friends for unreadable files).
// Giving no verifier is CodeNoServerCertVerifier.
func NewClientConfig(o ClientOptions) (*ClientConfig, error) {
	const op = "build client config"
	spec := &cgo.ClientSpec{KeylogSlot: -1, DisableSNI: o.DisableSNI, KeylogFile: o.KeyLogFromEnv,
		ECHGrease: o.ECHGrease, ECHConfigList: o.ECHConfigList}
	ways := 0
	if len(o.RootCAs) > 0 || len(o.RootCAFiles) > 0 {
		ways++
	}
	if o.SystemRoots {
		ways++
	}
	if o.DangerousVerifyPeerCertificate != nil {
		ways++
	}
	switch {
	case ways == 0:
		return nil, &Error{Code: CodeNoServerCertVerifier, Op: op,
			Detail: "give RootCAs, RootCAFiles, SystemRoots or DangerousVerifyPeerCertificate"}
	case ways > 1:
		return nil, inputErr(op, "choose one of RootCAs/RootCAFiles, SystemRoots and DangerousVerifyPeerCertificate")
	}
	if len(o.CRLs) > 0 && len(o.RootCAs) == 0 && len(o.RootCAFiles) == 0 {
		return nil, inputErr(op, "CRLs need RootCAs or RootCAFiles")
	}
	if err := checkCRLs(o.CRLs, op, "CRLs"); err != nil {
		return nil, err
	}
	var err error
	if spec.Versions, err = checkVersions(o.Versions, op); err != nil {
		return nil, err
	}
	if (len(o.ECHConfigList) > 0 || o.ECHGrease) && len(o.Versions) > 0 && !containsVersion(o.Versions, VersionTLS13) {
		return nil, &Error{Code: CodeIncompatibleTLSVersions, Op: op, Detail: "ECH needs TLS 1.3, but Versions does not enable it"}
	}
	if spec.ALPN, err = checkALPN(o.NextProtos, op); err != nil {
		return nil, err
	}
	var rootPEMs [][]byte // the CA PEMs the verifier was built from
	if len(o.RootCAs) > 0 || len(o.RootCAFiles) > 0 {
		roots, pems, err := buildRoots(o.RootCAs, o.RootCAFiles, op, "root CA")
		if err != nil {
			return nil, err
		}
		defer roots.Free()
		rootPEMs = pems
		spec.Roots = roots
		spec.CRLs = o.CRLs
	}
	spec.PlatformRoots = o.SystemRoots
	spec.Dangerous = o.DangerousVerifyPeerCertificate != nil
	if o.Certificate != nil {
		// Our reference keeps the C key alive until rustls has taken its
		// own in the build, whatever another goroutine closes meanwhile.
		k, ok := o.Certificate.acquire()
		if !ok {
			return nil, inputErr(op, "Certificate is closed")
		}
		defer o.Certificate.r.release()
		spec.Keys = []*cgo.CertifiedKey{k}
	}
	common := commonOptions{Provider: o.Provider, CipherSuites: o.CipherSuites, Versions: o.Versions,
		KeyLogWriter: o.KeyLogWriter, KeyLogFromEnv: o.KeyLogFromEnv}
	prov, slot, release, err := common.resolve(op)
	if err != nil {
		return nil, err
	}
	defer release()
	spec.Provider, spec.KeylogSlot = prov, slot
	c, err := buildConfig(slot, op, func() (*cgo.ClientConfig, error) { return cgo.BuildClientConfig(spec) })
	if err != nil {
		return nil, err
	}
	cc := &ClientConfig{
		c:          c,
		life:       newConfigLife(c.Free, spec.KeylogSlot),
		verify:     o.DangerousVerifyPeerCertificate,
		nextProtos: append([]string(nil), o.NextProtos...),
	}
	cc.life.peer = newPeerCheck(rootPEMs, o.SystemRoots, x509.ExtKeyUsageServerAuth, o.VerifyConnection)
	cc.cleanup = watchConfig(cc, cc.life)
	return cc, nil
}

// Close releases the config's C handle. Streams already made keep working;
// new ones fail. Idempotent; always returns nil.
func (c *ClientConfig) Close() error {
	if c == nil {
		return nil
	}
	c.life.closeOwner(&c.once, &c.cleanup)
	return nil
}

// NextProtos returns a copy of the configured ALPN protocols.
func (c *ClientConfig) NextProtos() []string { return slices.Clone(c.nextProtos) }

func containsVersion(vs []uint16, v uint16) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}
