package rustls

import (
	"runtime"
	"sync"

	"github.com/gorustls/gorustls/cgo"
)

// Provider is a rustls crypto provider: the algorithms and cipher suites a
// config may use. It is safe for concurrent use, Close included: configs
// (and providers derived with WithCipherSuites) take their own reference
// while they are built, so a Provider may be closed at any moment, even
// while a config is being built from it on another goroutine.
type Provider struct {
	r       *cref[*cgo.Provider]
	once    sync.Once
	cleanup runtime.Cleanup
}

// CipherSuite describes one cipher suite a provider offers.
type CipherSuite struct {
	ID      uint16 // IANA value, the same as crypto/tls's constants
	Name    string // rustls's name, e.g. TLS13_AES_128_GCM_SHA256
	Version uint16 // VersionTLS12 or VersionTLS13
}

// DefaultProvider returns the provider librustls was built with (aws-lc-rs
// by default, ring with PROVIDER=ring), with all its cipher suites. The
// caller owns the returned Provider and Closes it (a cleanup frees it if
// it becomes unreachable). An error, an *Error with rustls-ffi's code,
// means librustls has no usable default provider (a build with both
// providers and no choice between them, say).
func DefaultProvider() (*Provider, error) {
	p, err := cgo.DefaultProvider()
	if err != nil {
		return nil, fromCgo(err)
	}
	return wrapProvider(p), nil
}

// RingAESGCMAvailable reports whether the linked librustls carries both
// aws-lc-rs and ring, so that RingAESGCMProvider can succeed.
func RingAESGCMAvailable() bool { return cgo.HasRingAESGCM() }

// RingAESGCMProvider returns the aws-lc-rs provider (as the default one:
// post-quantum key exchange preferred) with its AES-GCM cipher suites (TLS
// 1.3 and TLS 1.2, 128 and 256 bits) taken from ring instead, whole: each
// suite brings ring's AEAD and its hash, HKDF (TLS 1.3) or PRF (TLS 1.2).
// Key exchange (X25519MLKEM768 first), signatures, ChaCha20-Poly1305 and
// randomness stay aws-lc-rs's, and the suites, their names and their order
// are the default provider's.
//
// It is meant for x86-64 CPUs with VAES and VPCLMULQDQ but without
// AVX-512, where aws-lc-rs falls back to AES-NI code and ring's VAES-AVX2
// AES-GCM should be faster (not measured: no such CPU was at hand). On
// CPUs with AVX-512, such as this project's test machine, aws-lc-rs runs
// its own AVX-512 AES-GCM, which profiles show using about 18 % less CPU
// per byte than ring's there (docs/performance.md): use the default
// provider. It needs the bundled librustls, which carries both providers
// (RingAESGCMAvailable); a librustls built with one provider (PROVIDER=ring,
// or a system install) gives an error saying so.
// Pass it as ServerOptions.Provider or ClientOptions.Provider; the configs
// take their own reference, so it may be closed once they are built.
func RingAESGCMProvider() (*Provider, error) {
	p, err := cgo.RingAESGCMProvider()
	if err != nil {
		return nil, fromCgo(err)
	}
	return wrapProvider(p), nil
}

func wrapProvider(p *cgo.Provider) *Provider {
	out := &Provider{r: newCRef(p, (*cgo.Provider).Free)}
	out.cleanup = runtime.AddCleanup(out, func(r *cref[*cgo.Provider]) { r.close() }, out.r)
	return out
}

// acquire takes a reference to the C provider for code about to use it or
// hand it to rustls; ok is false once the Provider is closed. The caller
// drops it with p.r.release().
func (p *Provider) acquire() (c *cgo.Provider, ok bool) {
	if p == nil || p.r == nil {
		return nil, false
	}
	c, ok = p.r.acquire()
	runtime.KeepAlive(p) // the cleanup must not run before acquire is done
	return c, ok
}

// CipherSuites lists the provider's cipher suites in preference order (nil
// once the provider is closed).
func (p *Provider) CipherSuites() []CipherSuite {
	c, ok := p.acquire()
	if !ok {
		return nil
	}
	defer p.r.release()
	var out []CipherSuite
	for _, s := range c.Suites() {
		out = append(out, CipherSuite{ID: s.ID, Name: s.Name, Version: s.Version})
	}
	return out
}

// WithCipherSuites returns a new provider that offers only the given suites
// (IANA IDs, e.g. tls.TLS_AES_128_GCM_SHA256), in the given order. An ID the
// provider does not offer is an error that names it.
func (p *Provider) WithCipherSuites(ids ...uint16) (*Provider, error) {
	c, ok := p.acquire()
	if !ok {
		return nil, inputErr("restrict cipher suites", "the Provider is closed")
	}
	np, err := c.WithSuites(ids)
	p.r.release()
	if err != nil {
		return nil, fromCgo(err)
	}
	return wrapProvider(np), nil
}

// FIPS reports whether the provider runs in FIPS mode (false once the
// provider is closed).
func (p *Provider) FIPS() bool {
	c, ok := p.acquire()
	if !ok {
		return false
	}
	defer p.r.release()
	return c.FIPS()
}

// Close releases the caller's reference. Configs built from it keep
// working, and a build running on another goroutine finishes with its own
// reference. Close is idempotent and always returns nil; afterwards the
// provider lists no suites and configs or providers built from it fail with
// an error saying it is closed.
func (p *Provider) Close() error {
	p.once.Do(func() {
		p.cleanup.Stop()
		if p.r != nil {
			p.r.close()
		}
	})
	return nil
}

// CipherSuites lists the default provider's cipher suites in preference
// order (what a config without Provider or CipherSuites offers). It fails
// only when DefaultProvider does, with the same *Error.
func CipherSuites() ([]CipherSuite, error) {
	p, err := DefaultProvider()
	if err != nil {
		return nil, err
	}
	defer p.Close()
	return p.CipherSuites(), nil
}

// resolveProvider resolves the provider a config should use: nil (the
// default) when neither is given, else a reference of its own (to p, or to
// a provider restricted to suites) that the caller drops with the returned
// func once the config is built.
func resolveProvider(p *Provider, suites []uint16, op string) (*cgo.Provider, func(), error) {
	if p == nil && len(suites) == 0 {
		return nil, func() {}, nil
	}
	var base *cgo.Provider
	var release func()
	if p != nil {
		c, ok := p.acquire()
		if !ok {
			return nil, nil, inputErr(op, "the Provider is closed")
		}
		base, release = c, p.r.release
	} else {
		d, err := cgo.DefaultProvider()
		if err != nil {
			return nil, nil, fromCgo(err)
		}
		base, release = d, d.Free
	}
	if len(suites) == 0 {
		return base, release, nil
	}
	np, err := base.WithSuites(suites)
	release()
	if err != nil {
		e := fromCgo(err).(*Error)
		e.Op = op + ": " + e.Op
		return nil, nil, e
	}
	return np, np.Free, nil
}

// checkSuitesUsable refuses a provider with no cipher suite for any of the
// enabled versions (rustls reports only a general error for it).
func checkSuitesUsable(prov *cgo.Provider, versions []uint16, op string) error {
	if prov == nil || len(versions) == 0 {
		return nil
	}
	for _, s := range prov.Suites() {
		if containsVersion(versions, s.Version) {
			return nil
		}
	}
	names := make([]string, len(versions))
	for i, v := range versions {
		names[i] = versionName(v)
	}
	return inputErr(op, "no cipher suite of the Provider/CipherSuites is usable with Versions %v", names)
}
