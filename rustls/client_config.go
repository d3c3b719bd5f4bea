package rustls

import (
	"io"
	"runtime"
	"sync"

	"github.com/gorustls/gorustls/cgo"
)

// PeerVerifier is a custom server-certificate check for
// ClientOptions.DangerousVerifyPeerCertificate. rawCerts holds the server's
// chain in DER, end entity first. Returning nil accepts the server. It runs
// during the handshake on the handshaking goroutine and must be safe for
// concurrent use.
type PeerVerifier func(serverName string, rawCerts [][]byte, ocspResponse []byte) error

// ClientOptions lists what a client config is built from. Exactly one way
// of verifying servers is needed: RootCAs/RootCAFiles, SystemRoots, or
// DangerousVerifyPeerCertificate.
type ClientOptions struct {
	// RootCAs is a PEM bundle of trusted CAs.
	RootCAs []byte
	// RootCAFiles are PEM files of trusted CAs.
	RootCAFiles []string
	// SystemRoots verifies with the platform verifier and the system's roots.
	SystemRoots bool
	// CRLs are PEM revocation lists checked for server certificates (with
	// RootCAs/RootCAFiles).
	CRLs [][]byte
	// DangerousVerifyPeerCertificate replaces all certificate verification
	// with this function. Named so nobody uses it by accident: a function
	// that does not verify leaves the connection open to interception.
	DangerousVerifyPeerCertificate PeerVerifier

	// Certificate is the client certificate for mutual TLS.
	Certificate *CertifiedKey
	// NextProtos are the ALPN protocols to offer, in preference order.
	NextProtos []string
	// DisableSNI stops sending the server name (SNI) in the ClientHello.
	DisableSNI bool
	// Versions are the TLS versions to enable.
	Versions []uint16
	// Provider is the crypto provider (nil: the default).
	Provider *Provider
	// CipherSuites restricts the provider to these suites, in this order.
	CipherSuites []uint16
	// KeyLogWriter receives TLS secrets in NSS key log format.
	KeyLogWriter io.Writer
	// KeyLogFromEnv writes secrets to the file named by SSLKEYLOGFILE.
	KeyLogFromEnv bool
	// ECHConfigList enables Encrypted Client Hello with this ECHConfigList
	// (as published in DNS HTTPS records). TLS 1.3 only.
	ECHConfigList []byte
	// ECHGrease sends a GREASE ECH extension when ECHConfigList is unset.
	ECHGrease bool
}

// ClientConfig is an immutable, built client configuration, safe for
// concurrent use. It keeps rustls's in-memory session cache, so connections
// made from the same config resume sessions. Close releases its C handle
// (streams already made keep working).
type ClientConfig struct {
	c          *cgo.ClientConfig
	life       *configLife
	verify     PeerVerifier
	nextProtos []string
	once       sync.Once
	cleanup    runtime.Cleanup
}

// NewClientConfig builds a client config; bad options give an *Error that
// names the field (errors.Is(err, ErrInvalidInput)).
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
	if len(o.RootCAs) > 0 || len(o.RootCAFiles) > 0 {
		roots, err := buildRoots(o.RootCAs, o.RootCAFiles, op, "root CA")
		if err != nil {
			return nil, err
		}
		defer roots.Free()
		spec.Roots = roots
		spec.CRLs = o.CRLs
	}
	spec.PlatformRoots = o.SystemRoots
	spec.Dangerous = o.DangerousVerifyPeerCertificate != nil
	if o.Certificate != nil {
		if o.Certificate.k == nil {
			return nil, inputErr(op, "Certificate is closed")
		}
		spec.Keys = []*cgo.CertifiedKey{o.Certificate.k}
	}
	prov, freeProv, err := resolveProvider(o.Provider, o.CipherSuites, op)
	if err != nil {
		return nil, err
	}
	defer freeProv()
	if err := checkSuitesUsable(prov, o.Versions, op); err != nil {
		return nil, err
	}
	spec.Provider = prov
	if spec.KeylogSlot, err = keylogSlot(o.KeyLogWriter, op); err != nil {
		return nil, err
	}
	c, err := cgo.BuildClientConfig(spec)
	runtime.KeepAlive(o.Certificate)
	if err != nil {
		cgo.ReleaseKeylogSlot(spec.KeylogSlot)
		return nil, annotate(fromCgo(err), op)
	}
	cc := &ClientConfig{
		c:          c,
		life:       newConfigLife(c.Free, spec.KeylogSlot, c.FreeServerNames),
		verify:     o.DangerousVerifyPeerCertificate,
		nextProtos: append([]string(nil), o.NextProtos...),
	}
	cc.cleanup = runtime.AddCleanup(cc, func(l *configLife) { l.close() }, cc.life)
	return cc, nil
}

// Close releases the config's C handle. Streams already made keep working;
// new ones fail. Idempotent; always returns nil.
func (c *ClientConfig) Close() error {
	c.once.Do(func() {
		c.cleanup.Stop()
		c.life.close()
	})
	return nil
}

// NextProtos returns the configured ALPN protocols.
func (c *ClientConfig) NextProtos() []string { return append([]string(nil), c.nextProtos...) }

func containsVersion(vs []uint16, v uint16) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}
