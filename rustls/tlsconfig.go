package rustls

//lint:file-ignore SA1019 deprecated tls.Config fields are read on purpose, to refuse what cannot be carried over.

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"slices"
	"sync"
)

// FromTLSOptions carries what a *tls.Config holds but cannot give back:
// an x509.CertPool cannot be listed, so the PEM of the CAs in RootCAs and
// ClientCAs must be passed alongside. The PEM is checked against the pool
// (x509.CertPool.Equal): a mismatch is an error.
type FromTLSOptions struct {
	// RootCAsPEM holds the CAs of tls.Config.RootCAs (clients).
	RootCAsPEM []byte
	// ClientCAsPEM holds the CAs of tls.Config.ClientCAs (servers).
	ClientCAsPEM []byte
	// Options apply to the Streams of LazyAcceptorFromTLS.
	Options StreamOptions
}

// Conversion of *tls.Config (migration from crypto/tls).
//
// Carried over: Certificates (with several, chosen per connection by SNI
// name and key type, as crypto/tls does), GetCertificate (servers; falling
// back to Certificates when it returns nil), GetConfigForClient
// (LazyAcceptorFromTLS only), ClientAuth (NoClientCert,
// VerifyClientCertIfGiven, RequireAndVerifyClientCert), ClientCAs and
// RootCAs (with their PEM, see FromTLSOptions; a nil RootCAs or the system
// pool means the system roots), NextProtos, MinVersion/MaxVersion (TLS 1.2
// and 1.3: rustls has no older versions), CipherSuites (TLS 1.2 suites the
// provider offers; TLS 1.3 suites are always enabled, as in crypto/tls),
// KeyLogWriter, ServerName (DialerFromTLS), EncryptedClientHelloConfigList,
// VerifyConnection (ServerOptions/ClientOptions.VerifyConnection: it runs
// after rustls's verification, on resumed handshakes too, as in crypto/tls).
//
// Accepted and ignored, because rustls already behaves so or the field is
// only a hint: PreferServerCipherSuites (deprecated, ignored by crypto/tls
// too), DynamicRecordSizingDisabled, ClientSessionCache (rustls keeps its own
// in-memory cache per config), SessionTicketsDisabled false on clients.
// SessionTicketsDisabled true on servers becomes
// ServerOptions.SessionTicketsDisabled.
//
// Refused with an error naming the field: Rand, Time, NameToCertificate,
// GetClientCertificate, VerifyPeerCertificate,
// InsecureSkipVerify (use ClientOptions.DangerousVerifyPeerCertificate),
// ClientAuth RequestClientCert and RequireAnyClientCert (rustls verifies
// every client certificate it asks for), SessionTicketsDisabled true on
// clients,
// SessionTicketKey, WrapSession/UnwrapSession, CurvePreferences,
// Renegotiation other than RenegotiateNever,
// EncryptedClientHelloRejectionVerify, EncryptedClientHelloKeys,
// GetEncryptedClientHelloKeys, MaxVersion below TLS 1.2.

const fromTLSOp = "convert tls.Config"

func unsupportedField(field, why string) *Error {
	return inputErr(fromTLSOp, "tls.Config.%s cannot be carried over: %s", field, why)
}

// commonTLSChecks refuses the fields neither side can carry over.
func commonTLSChecks(c *tls.Config) error {
	switch {
	case c.Rand != nil:
		return unsupportedField("Rand", "rustls uses its provider's random source")
	case c.Time != nil:
		return unsupportedField("Time", "rustls uses the system clock")
	case c.VerifyPeerCertificate != nil:
		return unsupportedField("VerifyPeerCertificate", "rustls verifies certificates itself (clients may replace verification with ClientOptions.DangerousVerifyPeerCertificate)")
	case c.SessionTicketKey != [32]byte{}:
		return unsupportedField("SessionTicketKey", "rustls manages its own ticket keys")
	case c.WrapSession != nil || c.UnwrapSession != nil:
		return unsupportedField("WrapSession/UnwrapSession", "use ServerOptions.SessionStore")
	case len(c.CurvePreferences) > 0:
		return unsupportedField("CurvePreferences", "key-exchange groups come from the crypto provider")
	case c.Renegotiation != tls.RenegotiateNever:
		return unsupportedField("Renegotiation", "rustls never renegotiates")
	case c.EncryptedClientHelloRejectionVerify != nil:
		return unsupportedField("EncryptedClientHelloRejectionVerify", "not available in rustls-ffi")
	case len(c.EncryptedClientHelloKeys) > 0 || c.GetEncryptedClientHelloKeys != nil:
		return unsupportedField("EncryptedClientHelloKeys", "rustls-ffi has no server-side ECH")
	}
	return nil
}

// tlsVersions maps MinVersion/MaxVersion to the versions rustls offers.
func tlsVersions(c *tls.Config) ([]uint16, error) {
	lo, hi := c.MinVersion, c.MaxVersion
	if hi != 0 && hi < tls.VersionTLS12 {
		return nil, unsupportedField("MaxVersion", fmt.Sprintf("0x%04x is below TLS 1.2, the oldest version rustls speaks", hi))
	}
	if lo == 0 && hi == 0 {
		return nil, nil
	}
	var vs []uint16
	for _, v := range []uint16{VersionTLS13, VersionTLS12} {
		if (lo == 0 || v >= lo) && (hi == 0 || v <= hi) {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return nil, unsupportedField("MinVersion", fmt.Sprintf("0x%04x is above TLS 1.3", lo))
	}
	return vs, nil
}

// tlsSuites keeps the listed TLS 1.2 suites the provider offers, in the
// listed order, after all its TLS 1.3 suites. IDs the provider lacks (for
// example CBC suites) are dropped; none left is an error when TLS 1.2 is
// the only version.
func tlsSuites(c *tls.Config, versions []uint16) ([]uint16, error) {
	if c.CipherSuites == nil {
		return nil, nil
	}
	all, err := CipherSuites()
	if err != nil {
		return nil, err
	}
	offered := map[uint16]bool{}
	var out []uint16
	for _, s := range all {
		if s.Version == VersionTLS13 {
			out = append(out, s.ID)
		} else {
			offered[s.ID] = true
		}
	}
	n13 := len(out)
	for _, id := range c.CipherSuites {
		if offered[id] {
			out = append(out, id)
			offered[id] = false
		}
	}
	if len(out) == n13 && len(versions) == 1 && versions[0] == VersionTLS12 {
		return nil, unsupportedField("CipherSuites", "none of the listed TLS 1.2 suites is offered by the rustls provider")
	}
	return out, nil
}

// poolPEM checks that pemData holds exactly the certificates of pool.
// parsed, when not nil, is pemData already parsed.
func poolPEM(field string, pool *x509.CertPool, pemData []byte, parsed *x509.CertPool) ([]byte, error) {
	if len(pemData) == 0 {
		return nil, unsupportedField(field, "an x509.CertPool cannot be listed; pass the same CAs as PEM in FromTLSOptions."+field+"PEM")
	}
	p := parsed
	if p == nil {
		p = x509.NewCertPool()
		if !p.AppendCertsFromPEM(pemData) {
			return nil, &Error{Code: CodeCertificateParse, Op: fromTLSOp, Detail: "FromTLSOptions." + field + "PEM holds no certificate"}
		}
	}
	if pool != nil && !pool.Equal(p) {
		return nil, inputErr(fromTLSOp, "FromTLSOptions.%sPEM does not hold the same certificates as tls.Config.%s", field, field)
	}
	return pemData, nil
}

// CertifiedKeyFromTLS converts a tls.Certificate (chain and private key)
// into a CertifiedKey. Its OCSPStaple, if any, is stapled as WithOCSP
// describes (and must pass WithOCSP's checks); SignedCertificateTimestamps
// are not carried over (rustls-ffi cannot send them).
func CertifiedKeyFromTLS(c *tls.Certificate) (*CertifiedKey, error) {
	if c == nil || len(c.Certificate) == 0 {
		return nil, &Error{Code: CodeCertificateParse, Op: fromTLSOp, Detail: "tls.Certificate has no certificate"}
	}
	if c.PrivateKey == nil {
		return nil, &Error{Code: CodePrivateKeyParse, Op: fromTLSOp, Detail: "tls.Certificate has no private key"}
	}
	var certPEM []byte
	for _, der := range c.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return nil, &Error{Code: CodePrivateKeyParse, Op: fromTLSOp,
			Detail: fmt.Sprintf("private key of type %T cannot be exported (keys held in hardware cannot be carried over)", c.PrivateKey), Err: err}
	}
	k, err := NewCertifiedKey(certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	if err != nil || len(c.OCSPStaple) == 0 {
		return k, err
	}
	defer k.Close()
	sk, err := k.WithOCSP(c.OCSPStaple)
	if e, ok := err.(*Error); ok {
		e.Detail = "tls.Certificate.OCSPStaple: " + e.Detail
	}
	return sk, err
}

// maxCached bounds the conversion caches: callbacks that return a new
// *tls.Certificate or *tls.Config every time would otherwise grow them
// without end. A full cache is emptied; connections keep what they use.
const maxCached = 256

// certCache converts each *tls.Certificate once.
type certCache struct {
	mu sync.Mutex
	m  map[*tls.Certificate]*CertifiedKey
}

func (cc *certCache) get(c *tls.Certificate) (*CertifiedKey, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if k, ok := cc.m[c]; ok {
		return k, nil
	}
	k, err := CertifiedKeyFromTLS(c)
	if err != nil {
		return nil, err
	}
	if cc.m == nil || len(cc.m) >= maxCached {
		cc.m = map[*tls.Certificate]*CertifiedKey{}
	}
	cc.m[c] = k
	return k, nil
}

// serverOptionsFromTLS converts everything but the certificates. clientCAs,
// when not nil, is x.ClientCAsPEM already parsed.
func serverOptionsFromTLS(c *tls.Config, x *FromTLSOptions, clientCAs *x509.CertPool) (ServerOptions, error) {
	var o ServerOptions
	if err := commonTLSChecks(c); err != nil {
		return o, err
	}
	switch {
	case c.NameToCertificate != nil:
		return o, unsupportedField("NameToCertificate", "deprecated; list the certificates in Certificates or use LazyAcceptorFromTLS")
	case c.InsecureSkipVerify:
		return o, unsupportedField("InsecureSkipVerify", "it has no meaning for a server")
	}
	switch c.ClientAuth {
	case tls.NoClientCert:
		o.ClientAuth = NoClientCert
	case tls.VerifyClientCertIfGiven:
		o.ClientAuth = VerifyClientCertIfGiven
	case tls.RequireAndVerifyClientCert:
		o.ClientAuth = RequireAndVerifyClientCert
	default:
		return o, unsupportedField("ClientAuth", c.ClientAuth.String()+" accepts unverified client certificates; rustls verifies every certificate it asks for (use VerifyClientCertIfGiven or RequireAndVerifyClientCert)")
	}
	if o.ClientAuth != NoClientCert { // crypto/tls ignores ClientCAs otherwise
		var xp []byte
		if x != nil {
			xp = x.ClientCAsPEM
		}
		if c.ClientCAs == nil {
			return o, unsupportedField("ClientAuth", c.ClientAuth.String()+" needs ClientCAs")
		}
		pemData, err := poolPEM("ClientCAs", c.ClientCAs, xp, clientCAs)
		if err != nil {
			return o, err
		}
		o.ClientCAs = pemData
	}
	var err error
	if o.Versions, err = tlsVersions(c); err != nil {
		return o, err
	}
	if o.CipherSuites, err = tlsSuites(c, o.Versions); err != nil {
		return o, err
	}
	o.NextProtos = append([]string(nil), c.NextProtos...)
	o.KeyLogWriter = c.KeyLogWriter
	o.VerifyConnection = c.VerifyConnection
	o.SessionTicketsDisabled = c.SessionTicketsDisabled
	return o, nil
}

// ServerConfigFromTLS builds a server config from a crypto/tls server
// config (see FromTLSOptions for what is carried over). GetCertificate is
// served through rustls's certificate callback with a *tls.ClientHelloInfo
// holding ServerName, SupportedProtos and SignatureSchemes and a non-nil
// Context(). rustls-ffi's certificate callback shows nothing more of the
// ClientHello and no transport: Conn is nil and SupportedVersions,
// SupportedCurves and SupportedPoints are empty, so SupportsCertificate
// reports no mutually supported version; LazyAcceptorFromTLS fills them
// all. A panic in GetCertificate fails the handshake with an error naming
// it. Converted certificates are cached per *tls.Certificate. GetConfigForClient needs
// the ClientHello path: use LazyAcceptorFromTLS. x may be nil.
func ServerConfigFromTLS(c *tls.Config, x *FromTLSOptions) (*ServerConfig, error) {
	if c == nil {
		return nil, inputErr(fromTLSOp, "nil tls.Config")
	}
	if c.GetConfigForClient != nil {
		return nil, unsupportedField("GetConfigForClient", "use LazyAcceptorFromTLS, which chooses the config from the ClientHello")
	}
	o, err := serverOptionsFromTLS(c, x, nil)
	if err != nil {
		return nil, err
	}
	cache := &certCache{}
	for i := range c.Certificates {
		k, err := cache.get(&c.Certificates[i])
		if err != nil {
			return nil, annotate(err, fmt.Sprintf("%s: Certificates[%d]", fromTLSOp, i))
		}
		o.Certificates = append(o.Certificates, k)
	}
	if len(o.Certificates) == 0 && c.GetCertificate == nil {
		return nil, unsupportedField("Certificates", "a server needs Certificates or GetCertificate")
	}
	// With GetCertificate, or several certificates, pick per connection as
	// crypto/tls does: GetCertificate first, then Certificates by name and
	// key type.
	if c.GetCertificate != nil || len(c.Certificates) > 1 {
		get, certs := c.GetCertificate, c.Certificates
		var logger *slog.Logger
		if x != nil {
			logger = x.Options.Logger
		}
		o.GetCertificate = func(h *ClientHello) (*CertifiedKey, error) {
			var cert *tls.Certificate
			if get != nil {
				var err error
				withClientHelloInfo(h, c, func(info *tls.ClientHelloInfo) {
					err = protect("tls.Config.GetCertificate", logger, nil, func() (err error) {
						cert, err = get(info)
						return err
					})
				})
				if err != nil {
					return nil, err
				}
			}
			if cert == nil {
				cert = pickCertificate(certs, h.ServerName, h.SignatureSchemes)
			}
			if cert == nil {
				return nil, fmt.Errorf("GetCertificate returned no certificate for %q", h.ServerName)
			}
			return cache.get(cert)
		}
	}
	return NewServerConfig(o)
}

// LazyAcceptorFromTLS serves a crypto/tls server config through the
// ClientHello path: per connection it calls GetConfigForClient (when set)
// and then GetCertificate, or picks from Certificates the first whose leaf
// is valid for the SNI name (the first one otherwise), as crypto/tls does.
//
// Each callback gets a *tls.ClientHelloInfo filled as crypto/tls fills it:
// ServerName, CipherSuites, SignatureSchemes, SupportedProtos,
// SupportedVersions, SupportedCurves, SupportedPoints, Extensions, Conn
// (the transport passed to Accept), a non-nil Context() (a child of the
// handshake's context, cancelled when the callback returns) and the config
// whose callback runs, so SupportsCertificate answers as under crypto/tls.
// HelloRetryRequest is always false: the callbacks run once, on the first
// ClientHello.
//
// Converted configs are cached by content, so the usual GetConfigForClient
// that returns base.Clone() (changed or not) reuses one converted config,
// and its clients resume: two (config, certificate) pairs share a converted
// config when every field carried over is equal (ClientAuth, ClientCAs,
// versions, suites, NextProtos), the certificate chains and private keys
// are equal, and VerifyConnection and KeyLogWriter are the same values
// (the same func value, as Clone copies it: a closure or method value
// made anew for each config is a different one, and then each connection
// builds a config of its own). At most 256 converted configs are kept
// (least recently used evicted and closed; streams made from them keep
// working). An error from a callback refuses the connection with a handshake_failure
// alert; a panic in one refuses it with internal_error and an error naming
// the callback and the panic value (logged to x.Options.Logger when set),
// and later connections are served as usual. x may be nil.
func LazyAcceptorFromTLS(c *tls.Config, x *FromTLSOptions) (*LazyAcceptor, error) {
	if c == nil {
		return nil, inputErr(fromTLSOp, "nil tls.Config")
	}
	if x == nil {
		x = &FromTLSOptions{}
	}
	var clientCAs *x509.CertPool // nil when unusable: poolPEM then says why
	if p := x509.NewCertPool(); p.AppendCertsFromPEM(x.ClientCAsPEM) {
		clientCAs = p
	}
	if _, err := serverOptionsFromTLS(c, x, clientCAs); err != nil {
		return nil, err
	}
	if len(c.Certificates) == 0 && c.GetCertificate == nil && c.GetConfigForClient == nil {
		return nil, unsupportedField("Certificates", "a server needs Certificates, GetCertificate or GetConfigForClient")
	}
	lz := &lazyFromTLS{base: c, x: x, clientCAs: clientCAs, cache: newLazyCache(maxCached)}
	return &LazyAcceptor{Choose: lz.choose, Options: x.Options}, nil
}

// callbackRefusal refuses a connection whose callback failed: a panic
// with internal_error, an error with handshake_failure.
func callbackRefusal(name string, err error) *RefuseError {
	if isCallbackPanic(err) {
		return &RefuseError{Alert: AlertInternalError, Reason: err.Error(), Err: err}
	}
	return &RefuseError{Alert: AlertHandshakeFailure, Reason: name + ": " + err.Error(), Err: err}
}

type lazyFromTLS struct {
	base      *tls.Config
	x         *FromTLSOptions
	clientCAs *x509.CertPool // x.ClientCAsPEM, parsed once
	mu        sync.Mutex
	cache     *lazyCache // converted configs (tlsconfig_cache.go)
}

func (lz *lazyFromTLS) choose(h *ClientHello) (*ServerConfig, error) {
	logger := lz.x.Options.Logger
	cfg := lz.base
	if get := cfg.GetConfigForClient; get != nil {
		var next *tls.Config
		var err error
		withClientHelloInfo(h, cfg, func(info *tls.ClientHelloInfo) {
			err = protect("tls.Config.GetConfigForClient", logger, h.conn, func() (err error) {
				next, err = get(info)
				return err
			})
		})
		if err != nil {
			return nil, callbackRefusal("GetConfigForClient", err)
		}
		if next != nil {
			cfg = next
		}
	}
	var cert *tls.Certificate
	if get := cfg.GetCertificate; get != nil {
		var err error
		withClientHelloInfo(h, cfg, func(info *tls.ClientHelloInfo) {
			err = protect("tls.Config.GetCertificate", logger, h.conn, func() (err error) {
				cert, err = get(info)
				return err
			})
		})
		if err != nil {
			return nil, callbackRefusal("GetCertificate", err)
		}
	}
	if cert == nil {
		cert = pickCertificate(cfg.Certificates, h.ServerName, h.SignatureSchemes)
	}
	if cert == nil {
		return nil, &RefuseError{Alert: AlertUnrecognizedName, Reason: fmt.Sprintf("no certificate for %q", h.ServerName)}
	}
	// The options are converted (and checked) for every connection, without
	// parsing the CA PEM again: what they hold is the cache key.
	o, err := serverOptionsFromTLS(cfg, lz.x, lz.clientCAs)
	if err != nil {
		return nil, &RefuseError{Alert: AlertHandshakeFailure, Reason: err.Error()}
	}
	key, cacheable := lazyCacheKey(&o, cert, cfg)
	lz.mu.Lock()
	defer lz.mu.Unlock()
	if cacheable {
		if sc, ok := lz.cache.get(key); ok {
			return sc, nil
		}
	}
	k, err := CertifiedKeyFromTLS(cert)
	if err != nil {
		return nil, &RefuseError{Alert: AlertHandshakeFailure, Reason: err.Error()}
	}
	defer k.Close()
	o.Certificates = []*CertifiedKey{k}
	sc, err := NewServerConfig(o)
	if err != nil {
		return nil, &RefuseError{Alert: AlertHandshakeFailure, Reason: err.Error()}
	}
	if cacheable { // else the conversion failed above
		lz.cache.add(key, sc)
	}
	return sc, nil
}

// pickCertificate chooses as crypto/tls does: among the certificates valid
// for name (all of them when none is, or without SNI), the first whose key
// suits one of the client's signature schemes, else the first of them.
func pickCertificate(certs []tls.Certificate, name string, schemes []uint16) *tls.Certificate {
	if len(certs) == 0 {
		return nil
	}
	leaves := make([]*x509.Certificate, len(certs))
	var cand []int
	for i := range certs {
		leaves[i] = certs[i].Leaf
		if leaves[i] == nil && len(certs[i].Certificate) > 0 {
			leaves[i], _ = x509.ParseCertificate(certs[i].Certificate[0])
		}
		if name != "" && leaves[i] != nil && leaves[i].VerifyHostname(name) == nil {
			cand = append(cand, i)
		}
	}
	if len(cand) == 0 {
		for i := range certs {
			cand = append(cand, i)
		}
	}
	for _, i := range cand {
		if leaves[i] != nil && keySuits(leaves[i], schemes) {
			return &certs[i]
		}
	}
	return &certs[cand[0]]
}

// keySuits reports whether the leaf's key can sign with one of schemes
// (TLS SignatureScheme values); true when schemes is empty.
func keySuits(leaf *x509.Certificate, schemes []uint16) bool {
	if len(schemes) == 0 {
		return true
	}
	var ok []tls.SignatureScheme
	switch k := leaf.PublicKey.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			ok = []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256}
		case elliptic.P384():
			ok = []tls.SignatureScheme{tls.ECDSAWithP384AndSHA384}
		case elliptic.P521():
			ok = []tls.SignatureScheme{tls.ECDSAWithP521AndSHA512}
		}
	case ed25519.PublicKey:
		ok = []tls.SignatureScheme{tls.Ed25519}
	case *rsa.PublicKey:
		ok = []tls.SignatureScheme{tls.PSSWithSHA256, tls.PSSWithSHA384, tls.PSSWithSHA512,
			tls.PKCS1WithSHA256, tls.PKCS1WithSHA384, tls.PKCS1WithSHA512}
	}
	for _, s := range schemes {
		if slices.Contains(ok, tls.SignatureScheme(s)) {
			return true
		}
	}
	return false
}

// ClientConfigFromTLS builds a client config from a crypto/tls client
// config (see FromTLSOptions). A nil RootCAs, or one equal to the system
// pool, means the system roots; any other RootCAs needs its PEM in
// x.RootCAsPEM. ServerName is not part of a ClientConfig: DialerFromTLS
// carries it. x may be nil.
func ClientConfigFromTLS(c *tls.Config, x *FromTLSOptions) (*ClientConfig, error) {
	if c == nil {
		return nil, inputErr(fromTLSOp, "nil tls.Config")
	}
	if err := commonTLSChecks(c); err != nil {
		return nil, err
	}
	switch {
	case c.InsecureSkipVerify:
		return nil, unsupportedField("InsecureSkipVerify", "turning verification off is not carried over silently; if you must, build the config with ClientOptions.DangerousVerifyPeerCertificate")
	case c.GetClientCertificate != nil:
		return nil, unsupportedField("GetClientCertificate", "give the client certificate in Certificates")
	case len(c.Certificates) > 1:
		return nil, unsupportedField("Certificates", "a client config takes one client certificate")
	case c.ClientAuth != tls.NoClientCert || c.ClientCAs != nil:
		return nil, unsupportedField("ClientAuth/ClientCAs", "they configure servers, not clients")
	case c.GetCertificate != nil || c.GetConfigForClient != nil:
		return nil, unsupportedField("GetCertificate/GetConfigForClient", "they configure servers, not clients")
	case c.SessionTicketsDisabled:
		return nil, unsupportedField("SessionTicketsDisabled", "a rustls-ffi client always keeps its in-memory session cache")
	}
	var o ClientOptions
	var rootsPEM []byte
	if x != nil {
		rootsPEM = x.RootCAsPEM
	}
	switch {
	case c.RootCAs == nil && len(rootsPEM) == 0:
		o.SystemRoots = true
	case c.RootCAs != nil && len(rootsPEM) == 0 && isSystemPool(c.RootCAs):
		o.SystemRoots = true
	default:
		pemData, err := poolPEM("RootCAs", c.RootCAs, rootsPEM, nil)
		if err != nil {
			return nil, err
		}
		o.RootCAs = pemData
	}
	if len(c.Certificates) == 1 {
		k, err := CertifiedKeyFromTLS(&c.Certificates[0])
		if err != nil {
			return nil, err
		}
		defer k.Close()
		o.Certificate = k
	}
	var err error
	if o.Versions, err = tlsVersions(c); err != nil {
		return nil, err
	}
	if o.CipherSuites, err = tlsSuites(c, o.Versions); err != nil {
		return nil, err
	}
	o.NextProtos = append([]string(nil), c.NextProtos...)
	o.KeyLogWriter = c.KeyLogWriter
	o.VerifyConnection = c.VerifyConnection
	o.ECHConfigList = c.EncryptedClientHelloConfigList
	return NewClientConfig(o)
}

func isSystemPool(p *x509.CertPool) bool {
	sys, err := x509.SystemCertPool()
	return err == nil && sys.Equal(p)
}

// DialerFromTLS returns a Dialer with ClientConfigFromTLS's config and
// c.ServerName. x may be nil.
func DialerFromTLS(c *tls.Config, x *FromTLSOptions) (*Dialer, error) {
	cfg, err := ClientConfigFromTLS(c, x)
	if err != nil {
		return nil, err
	}
	d := &Dialer{Config: cfg, ServerName: c.ServerName}
	if x != nil {
		d.Options = x.Options
	}
	return d, nil
}
