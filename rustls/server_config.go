package rustls

import (
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/gorustls/gorustls/cgo"
)

// ClientAuth says whether a server asks for and verifies client certificates.
type ClientAuth int

const (
	// NoClientCert: the server does not ask for a client certificate.
	NoClientCert ClientAuth = iota
	// VerifyClientCertIfGiven: the server asks; a client may send none, but a
	// certificate that is sent must verify against ClientCAs.
	VerifyClientCertIfGiven
	// RequireAndVerifyClientCert: a client must send a certificate that
	// verifies against ClientCAs.
	RequireAndVerifyClientCert
)

// String names the mode.
func (a ClientAuth) String() string {
	switch a {
	case NoClientCert:
		return "none"
	case VerifyClientCertIfGiven:
		return "optional"
	case RequireAndVerifyClientCert:
		return "required"
	}
	return fmt.Sprintf("ClientAuth(%d)", int(a))
}

// ClientHelloInfo is what a server sees of a ClientHello before it picks a
// certificate or a config.
type ClientHelloInfo struct {
	ServerName       string   // SNI, empty when the client sent none
	SupportedProtos  []string // ALPN protocols offered by the client
	CipherSuites     []uint16 // offered suites (ClientHello path only)
	SignatureSchemes []uint16 // offered signature schemes
}

// ServerOptions lists what a server config is built from. The zero value of
// each field means rustls's default.
type ServerOptions struct {
	// Certificates to serve. With several, rustls picks the first whose key
	// type suits the client's signature schemes. Required unless
	// GetCertificate is set.
	Certificates []*CertifiedKey
	// GetCertificate, if set, picks the certificate per connection from the
	// ClientHello (SNI-based selection). Returning nil or an error aborts
	// the handshake. Not used on the ClientHello path (LazyAcceptor).
	GetCertificate func(*ClientHelloInfo) (*CertifiedKey, error)

	// ClientAuth selects client authentication; other than NoClientCert it
	// needs ClientCAs or ClientCAFiles.
	ClientAuth ClientAuth
	// ClientCAs is a PEM bundle of CAs that client certificates must chain to.
	ClientCAs []byte
	// ClientCAFiles are PEM files of such CAs.
	ClientCAFiles []string
	// ClientCRLs are PEM certificate revocation lists checked for client
	// certificates.
	ClientCRLs [][]byte

	// NextProtos are the ALPN protocols the server accepts, in its order of
	// preference (see IgnoreClientOrder).
	NextProtos []string
	// Versions are the TLS versions to enable (VersionTLS12, VersionTLS13).
	Versions []uint16
	// Provider is the crypto provider (nil: the default provider).
	Provider *Provider
	// CipherSuites restricts the provider to these suites, in this order.
	CipherSuites []uint16
	// IgnoreClientOrder makes the server prefer its own suite order.
	IgnoreClientOrder bool

	// KeyLogWriter receives TLS secrets in NSS key log format, for
	// debugging with Wireshark. It breaks the security of every connection.
	KeyLogWriter io.Writer
	// KeyLogFromEnv writes secrets to the file named by SSLKEYLOGFILE.
	KeyLogFromEnv bool

	// SessionStore replaces rustls's in-memory session cache (used when nil).
	SessionStore SessionStore
}

// ServerConfig is an immutable, built server configuration. It is safe for
// concurrent use by any number of connections and owns a C handle: Close
// releases it (connections already made keep working), and a cleanup
// releases it if the config becomes unreachable without Close.
type ServerConfig struct {
	c          *cgo.ServerConfig
	life       *configLife
	store      SessionStore
	getCert    func(*ClientHelloInfo) (*CertifiedKey, error)
	nextProtos []string
	clientAuth ClientAuth
	once       sync.Once
	cleanup    runtime.Cleanup
}

// NewServerConfig builds a server config. Every problem with the options is
// an *Error (errors.Is(err, ErrInvalidInput) for bad input) naming the field.
func NewServerConfig(o ServerOptions) (*ServerConfig, error) {
	const op = "build server config"
	if len(o.Certificates) == 0 && o.GetCertificate == nil {
		return nil, inputErr(op, "no Certificates and no GetCertificate: a server needs a certificate")
	}
	spec := &cgo.ServerSpec{KeylogSlot: -1, IgnoreClientOrder: o.IgnoreClientOrder, KeylogFile: o.KeyLogFromEnv}
	for i, k := range o.Certificates {
		if k == nil || k.k == nil {
			return nil, inputErr(op, "Certificates[%d] is nil or closed", i)
		}
		spec.Keys = append(spec.Keys, k.k)
	}
	var err error
	if spec.Versions, err = checkVersions(o.Versions, op); err != nil {
		return nil, err
	}
	if spec.ALPN, err = checkALPN(o.NextProtos, op); err != nil {
		return nil, err
	}
	switch o.ClientAuth {
	case NoClientCert:
		if len(o.ClientCRLs) > 0 {
			return nil, inputErr(op, "ClientCRLs are set but ClientAuth is none: CRLs only apply to verified client certificates")
		}
	case VerifyClientCertIfGiven, RequireAndVerifyClientCert:
		spec.ClientAuth = int(o.ClientAuth)
		if len(o.ClientCAs) == 0 && len(o.ClientCAFiles) == 0 {
			return nil, inputErr(op, "ClientAuth %v needs ClientCAs or ClientCAFiles", o.ClientAuth)
		}
		if err := checkCRLs(o.ClientCRLs, op, "ClientCRLs"); err != nil {
			return nil, err
		}
		roots, err := buildRoots(o.ClientCAs, o.ClientCAFiles, op, "client CA")
		if err != nil {
			return nil, err
		}
		defer roots.Free()
		spec.ClientRoots = roots
		spec.ClientCRLs = o.ClientCRLs
	default:
		return nil, inputErr(op, "unknown ClientAuth %d", int(o.ClientAuth))
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
	spec.SessionStore = o.SessionStore != nil
	spec.HelloCallback = o.GetCertificate != nil
	if spec.KeylogSlot, err = keylogSlot(o.KeyLogWriter, op); err != nil {
		return nil, err
	}
	c, err := cgo.BuildServerConfig(spec)
	runtime.KeepAlive(o.Certificates)
	if err != nil {
		cgo.ReleaseKeylogSlot(spec.KeylogSlot)
		return nil, annotate(fromCgo(err), op)
	}
	sc := &ServerConfig{
		c:          c,
		life:       newConfigLife(c.Free, spec.KeylogSlot, nil),
		store:      o.SessionStore,
		getCert:    o.GetCertificate,
		nextProtos: append([]string(nil), o.NextProtos...),
		clientAuth: o.ClientAuth,
	}
	sc.cleanup = runtime.AddCleanup(sc, func(l *configLife) { l.close() }, sc.life)
	return sc, nil
}

// Close releases the config's C handle. Streams already made from it keep
// working; new ones fail. Close is idempotent and always returns nil.
func (c *ServerConfig) Close() error {
	c.once.Do(func() {
		c.cleanup.Stop()
		c.life.close()
	})
	return nil
}

// NextProtos returns the configured ALPN protocols.
func (c *ServerConfig) NextProtos() []string { return append([]string(nil), c.nextProtos...) }

func checkVersions(vs []uint16, op string) ([]uint16, error) {
	seen := map[uint16]bool{}
	for _, v := range vs {
		if v != VersionTLS12 && v != VersionTLS13 {
			return nil, inputErr(op, "unsupported TLS version 0x%04x (rustls supports TLS 1.2 and TLS 1.3)", v)
		}
		if seen[v] {
			return nil, inputErr(op, "TLS version %s listed twice", versionName(v))
		}
		seen[v] = true
	}
	return vs, nil
}

func checkALPN(protos []string, op string) ([][]byte, error) {
	var out [][]byte
	for i, p := range protos {
		if p == "" {
			return nil, inputErr(op, "ALPN protocol %d is empty", i)
		}
		if len(p) > 255 {
			return nil, inputErr(op, "ALPN protocol %d is longer than 255 bytes", i)
		}
		out = append(out, []byte(p))
	}
	return out, nil
}

func buildRoots(pem []byte, files []string, op, what string) (*cgo.RootStore, error) {
	var pems [][]byte
	if len(pem) > 0 {
		if err := checkRootsPEM(pem, op, what); err != nil {
			return nil, err
		}
		pems = append(pems, pem)
	}
	for _, f := range files {
		b, err := readPEMFile(f, what)
		if err != nil {
			return nil, err
		}
		if err := checkRootsPEM(b, op, what+" file "+f); err != nil {
			return nil, err
		}
		pems = append(pems, b)
	}
	if len(pems) == 0 {
		return nil, &Error{Code: CodeCertificateParse, Op: op, Detail: "the " + what + " root store is empty"}
	}
	rs, err := cgo.NewRootStore(pems, nil)
	if err != nil {
		return nil, annotate(fromCgo(err), op)
	}
	return rs, nil
}

func annotate(err error, op string) error {
	if e, ok := err.(*Error); ok && e.Op != op {
		e.Op = op + ": " + e.Op
	}
	return err
}
