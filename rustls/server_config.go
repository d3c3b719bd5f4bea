package rustls

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"runtime"
	"slices"
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

// ServerOptions lists what a server config is built from. The zero value of
// each field means rustls's default.
type ServerOptions struct {
	// Certificates to serve. With several, rustls picks the first whose key
	// type suits the client's signature schemes. Required unless
	// GetCertificate is set.
	Certificates []*CertifiedKey
	// GetCertificate, if set, picks the certificate per connection from the
	// ClientHello (SNI-based selection). It runs on the handshaking
	// goroutine, for many connections at once: it must be safe for
	// concurrent use. Returning nil or an error aborts the handshake; so
	// does a panic (the handshake error wraps a *PanicError naming
	// GetCertificate), and the config keeps serving later handshakes. The
	// connection takes its own reference to the returned key and holds it
	// until it is freed, so the key may be closed at any time afterwards
	// (rotation: store the new key where GetCertificate reads it, then
	// Close the old one); a key already closed when GetCertificate returns
	// fails that handshake with an error saying GetCertificate returned a
	// closed CertifiedKey. Not used on the ClientHello path (LazyAcceptor).
	// Its *ClientHello holds ServerName, ALPN and SignatureSchemes (all
	// rustls-ffi's certificate callback shows), Conn (the Stream's
	// transport) and Context (see ClientHello.Context); its other lists are
	// nil.
	GetCertificate func(*ClientHello) (*CertifiedKey, error)

	// ClientAuth selects client authentication; other than NoClientCert it
	// needs ClientCAs or ClientCAFiles. The verified chain is in the
	// server Stream's ConnectionState().PeerCertificates, on resumed
	// connections too (the chain verified when the session was made). A
	// resumed session whose client certificate has expired since is
	// refused: with a SessionStore a full handshake runs instead; with
	// rustls's own cache the handshake fails with CodeCertExpired.
	ClientAuth ClientAuth
	// ClientCAs is a PEM bundle of CAs that client certificates must chain
	// to (one or more CERTIFICATE blocks; other content is an error).
	ClientCAs []byte
	// ClientCAFiles are PEM files of such CAs, read at build time; added to
	// ClientCAs.
	ClientCAFiles []string
	// ClientCRLs are certificate revocation lists (each one or more PEM
	// "X509 CRL" blocks) checked for client certificates: a revoked client
	// certificate fails the handshake with CodeCertRevoked. They need a
	// ClientAuth other than NoClientCert. With CRLs given, every CA that
	// issues certificates in a client's chain needs its CRL here: a
	// certificate whose revocation status is unknown is refused.
	ClientCRLs [][]byte
	// VerifyConnection, if set, runs at the end of every handshake, full
	// or resumed, after rustls's own checks succeeded, with the
	// connection's state as ConnectionState reports it (PeerCertificates
	// and VerifiedChains hold the client's certificate when ClientAuth
	// asked for one and the client sent one). Use it to authorize clients
	// by identity (for example a SPIFFE ID or a CommonName). A non-nil
	// error fails the handshake with an *Error (CodeCertApplicationFailure,
	// ErrCertificate) that wraps it, before any application data is read;
	// the client sees its handshake or its first read fail, without an
	// alert. A panic fails the handshake with an error naming
	// VerifyConnection. It runs on the handshaking goroutine and must be
	// safe for concurrent use.
	VerifyConnection func(tls.ConnectionState) error

	// NextProtos are the ALPN protocols the server accepts, in its order of
	// preference: the server picks its first protocol that the client also
	// offers. A client offering only other protocols is refused
	// (CodeNoApplicationProtocol); a client offering none is served
	// without ALPN. Each protocol must be 1 to 255 bytes.
	NextProtos []string
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
	// PreferClientCipherOrder makes the server take the first suite in
	// the client's list that it supports. By default the server takes the
	// first suite in its own order that the client offers, in TLS 1.2 and
	// TLS 1.3 alike: the order of CipherSuites, or else the provider's
	// (for the default provider AES-256-GCM, AES-128-GCM, then
	// ChaCha20-Poly1305). TLS scanners rate a server without an order of
	// its own as a HIGH finding; see docs/security.md, "Cipher-suite
	// order".
	PreferClientCipherOrder bool
	// IgnoreClientOrder asked for the server's order, now the default.
	//
	// Deprecated: the server's order is the default, so this changes
	// nothing; it may not be combined with PreferClientCipherOrder.
	IgnoreClientOrder bool

	// KeyLogWriter receives TLS secrets in NSS key log format (what
	// SSLKEYLOGFILE holds: "LABEL <client random> <secret>"), one Write per
	// line, serialized, for debugging with Wireshark. It breaks the security
	// of every connection made with the config. At most 256 configs with a
	// KeyLogWriter may be live at once; a config counts until it is closed
	// (or collected) and its last stream is closed.
	KeyLogWriter io.Writer
	// KeyLogFromEnv appends secrets to the file named by the SSLKEYLOGFILE
	// environment variable as read at build time (nothing when unset).
	// Ignored when KeyLogWriter is set. The file is created with mode 0600;
	// an existing regular file that group or others can access is made
	// owner-only (chmod); when it cannot be opened or made private the
	// build fails with a CodeIO error naming it.
	KeyLogFromEnv bool

	// SessionStore replaces rustls's in-memory session cache (256 entries,
	// used when nil) with Go code, for example to share sessions between
	// configs or processes. rustls-ffi has no ticket key, so every
	// resumption goes through it: a TLS 1.2 session is Put under its
	// session ID and looked up with Get(key, false); each TLS 1.3 ticket is
	// a random ID whose state is Put, and resumption takes it with Get(key,
	// true) (tickets are single-use). A Put that returns false means no
	// ticket or session ID is issued. A SessionStore cannot be used on the
	// ClientHello path (LazyAcceptor). A *MemorySessionStore is gorustls's
	// own code, not a user callback: handshakes call it directly (see
	// Stream.Handshake on callbacks), which costs less than any other store.
	//
	// Sharing a store never lets a resumed client skip the checks of the
	// config it resumes on: each key starts with a 32-byte fingerprint of
	// the config's client-auth policy (ClientAuth, the client CA
	// certificates and ClientCRLs), so a config with another policy (other
	// CAs, a new CRL) finds nothing and runs a full handshake. A session is
	// also refused, and a full handshake runs, when a client certificate
	// stored with it has expired (or is not yet valid) or when it is older
	// than 7 days. Rebuilding a config with new CRLs therefore makes every
	// client that resumes do one full handshake.
	//
	// Every value is sealed (encrypted and authenticated) under
	// SessionStoreKey and bound to the key it is stored under: whoever can
	// read the store learns nothing of the sessions (they hold resumption
	// secrets and client chains), and whoever can write to it, without the
	// key, can make resumptions fail (full handshakes follow) but cannot
	// make or alter a session. See docs/security.md, Resumption.
	SessionStore SessionStore
	// SessionStoreKey is the secret key that seals the values put in
	// SessionStore: exactly SessionStoreKeySize (32) random bytes, for
	// example from crypto/rand; another length, or all zeros, is an
	// ErrInvalidInput error, and so is a key without a SessionStore. It is
	// copied at build time.
	//
	// Every config and every process that shares a store must use the same
	// key to resume each other's sessions: a value sealed under another key
	// is a miss (a full handshake). Left nil, a random key made once per
	// process is used, so configs in one process share sessions and other
	// processes' sessions are simply misses.
	//
	// Keep it as secret as a private key: whoever holds it and can write to
	// the store can resume as any client, with any client certificate.
	// Rotate it by building new configs with a new key (SessionStoreKeys
	// lets configs still open sessions sealed under the old one).
	SessionStoreKey []byte
	// SessionStoreKeys, set instead of SessionStoreKey (setting both is an
	// error), lets keys rotate without a wave of full handshakes: the first
	// key seals new sessions and every key opens stored ones. Each key is
	// as SessionStoreKey says. Roll a new key out to every process as the
	// second key first, then make it the first, then drop the old one
	// after the session lifetime (7 days at most).
	SessionStoreKeys [][]byte
	// SessionTicketsDisabled turns resumption off, as crypto/tls's field of
	// the same name does: the server issues no TLS 1.3 tickets and keeps no
	// TLS 1.2 sessions, so every handshake is a full one (clients' offers
	// to resume are declined). It costs no callback: rustls-ffi is given
	// C functions that store nothing. Setting it with a SessionStore (or
	// its keys) is an ErrInvalidInput error.
	SessionTicketsDisabled bool
}

// ServerConfig is an immutable, built server configuration. It is safe for
// concurrent use by any number of connections and owns a C handle: Close
// releases it (streams already made, even those whose handshake has not
// run yet, keep working; new streams fail with an ErrInvalidInput error
// saying the config is closed), and a cleanup releases it if the config
// becomes unreachable without Close.
type ServerConfig struct {
	c          *cgo.ServerConfig
	life       *configLife
	store      SessionStore // the user's store wrapped in a policyStore, or nil
	getCert    func(*ClientHello) (*CertifiedKey, error)
	nextProtos []string
	clientAuth ClientAuth
	once       sync.Once
	cleanup    runtime.Cleanup
}

// NewServerConfig builds a server config. Every problem with the options is
// an *Error naming the field and what is wrong with it: errors.Is(err,
// ErrInvalidInput) for bad input, ErrCRL for CRLs, ErrIO (and
// fs.ErrNotExist and friends) for files that cannot be read.
func NewServerConfig(o ServerOptions) (*ServerConfig, error) {
	const op = "build server config"
	if len(o.Certificates) == 0 && o.GetCertificate == nil {
		return nil, inputErr(op, "no Certificates and no GetCertificate: a server needs a certificate")
	}
	if o.IgnoreClientOrder && o.PreferClientCipherOrder {
		return nil, inputErr(op, "IgnoreClientOrder (deprecated: the server's order is the default) contradicts PreferClientCipherOrder")
	}
	spec := &cgo.ServerSpec{KeylogSlot: -1, IgnoreClientOrder: !o.PreferClientCipherOrder, KeylogFile: o.KeyLogFromEnv}
	for i, k := range o.Certificates {
		// The build hands the C keys to rustls, which takes its own
		// references; ours keep them alive until then, whatever another
		// goroutine closes meanwhile.
		c, ok := k.acquire()
		if !ok {
			return nil, inputErr(op, "Certificates[%d] is nil or closed", i)
		}
		defer k.r.release()
		spec.Keys = append(spec.Keys, c)
	}
	var err error
	if spec.Versions, err = checkVersions(o.Versions, op); err != nil {
		return nil, err
	}
	if spec.ALPN, err = checkALPN(o.NextProtos, op); err != nil {
		return nil, err
	}
	sealKeys, err := storeKeys(&o, op)
	if err != nil {
		return nil, err
	}
	if o.SessionTicketsDisabled && (o.SessionStore != nil || o.SessionStoreKey != nil || o.SessionStoreKeys != nil) {
		return nil, inputErr(op, "SessionTicketsDisabled contradicts SessionStore: a server without resumption stores no sessions")
	}
	spec.NoResumption = o.SessionTicketsDisabled
	var clientCAs [][]byte // the CA PEMs the verifier was built from
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
		roots, caPEMs, err := buildRoots(o.ClientCAs, o.ClientCAFiles, op, "client CA")
		if err != nil {
			return nil, err
		}
		defer roots.Free()
		spec.ClientRoots = roots
		spec.ClientCRLs = o.ClientCRLs
		clientCAs = caPEMs
	default:
		return nil, inputErr(op, "unknown ClientAuth %d", int(o.ClientAuth))
	}
	common := commonOptions{Provider: o.Provider, CipherSuites: o.CipherSuites, Versions: o.Versions,
		KeyLogWriter: o.KeyLogWriter, KeyLogFromEnv: o.KeyLogFromEnv}
	prov, slot, release, err := common.resolve(op)
	if err != nil {
		return nil, err
	}
	defer release()
	spec.Provider, spec.KeylogSlot = prov, slot
	spec.SessionStore = o.SessionStore != nil
	spec.HelloCallback = o.GetCertificate != nil
	c, err := buildConfig(slot, op, func() (*cgo.ServerConfig, error) { return cgo.BuildServerConfig(spec) })
	if err != nil {
		return nil, err
	}
	var store SessionStore
	if o.SessionStore != nil {
		store = newPolicyStore(o.SessionStore, policyFingerprint(o.ClientAuth, clientCAs, o.ClientCRLs), o.ClientAuth, newSessionSealer(sealKeys))
	}
	sc := &ServerConfig{
		c:          c,
		life:       newConfigLife(c.Free, spec.KeylogSlot),
		store:      store,
		getCert:    o.GetCertificate,
		nextProtos: append([]string(nil), o.NextProtos...),
		clientAuth: o.ClientAuth,
	}
	sc.life.peer = newPeerCheck(clientCAs, false, x509.ExtKeyUsageClientAuth, o.VerifyConnection)
	sc.cleanup = watchConfig(sc, sc.life)
	return sc, nil
}

// Close releases the config's C handle. Streams already made from it keep
// working; new ones fail. Close is idempotent and always returns nil.
func (c *ServerConfig) Close() error {
	if c == nil {
		return nil
	}
	c.life.closeOwner(&c.once, &c.cleanup)
	return nil
}

// NextProtos returns a copy of the configured ALPN protocols.
func (c *ServerConfig) NextProtos() []string { return slices.Clone(c.nextProtos) }

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

// buildRoots builds a root store from a PEM bundle and PEM files, and
// returns the PEM bundles it was built from (files read once).
func buildRoots(pem []byte, files []string, op, what string) (*cgo.RootStore, [][]byte, error) {
	var pems [][]byte
	if len(pem) > 0 {
		if _, err := checkCertPEM(pem, op, what); err != nil {
			return nil, nil, err
		}
		pems = append(pems, pem)
	}
	for _, f := range files {
		b, err := readPEMFile(f, what)
		if err != nil {
			return nil, nil, err
		}
		if _, err := checkCertPEM(b, op, what+" file "+f); err != nil {
			return nil, nil, err
		}
		pems = append(pems, b)
	}
	if len(pems) == 0 {
		return nil, nil, &Error{Code: CodeCertificateParse, Op: op, Detail: "the " + what + " root store is empty"}
	}
	rs, err := cgo.NewRootStore(pems, nil)
	if err != nil {
		return nil, nil, annotate(fromCgo(err), op)
	}
	return rs, pems, nil
}

func annotate(err error, op string) error {
	if e, ok := err.(*Error); ok && e.Op != op {
		e.Op = op + ": " + e.Op
	}
	return err
}
