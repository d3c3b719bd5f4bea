package rustls

import (
	"crypto/x509"
	"runtime"
	"sync"
	"weak"
)

// peerCerts shares parsed peer certificates between connections: a
// client that connects to the same server again and again (or a server
// whose clients share an intermediate) would otherwise keep one parsed
// x509.Certificate, several KiB each, per connection for as long as the
// connection lives. crypto/tls shares its clients' peer certificates the
// same way. Entries are weak: a certificate no connection (or caller)
// still references is collected, and its entry removed.
var peerCerts = peerCertCache{m: make(map[string]weak.Pointer[x509.Certificate])}

type peerCertCache struct {
	mu sync.Mutex
	m  map[string]weak.Pointer[x509.Certificate] // DER -> parsed
}

// parse returns der parsed, the same *x509.Certificate as any live one
// parsed from the same bytes. der must not be modified afterwards (the
// certificate's Raw may alias it). A certificate that does not parse is
// not cached.
func (c *peerCertCache) parse(der []byte) (*x509.Certificate, error) {
	if cert := c.lookup(der); cert != nil {
		return cert, nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if wp, ok := c.m[string(der)]; ok {
		if old := wp.Value(); old != nil {
			return old, nil // another connection parsed it meanwhile
		}
	}
	key := string(der)
	wp := weak.Make(cert)
	c.m[key] = wp
	runtime.AddCleanup(cert, c.forget, certEntry{key: key, wp: wp})
	return cert, nil
}

func (c *peerCertCache) lookup(der []byte) *x509.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	if wp, ok := c.m[string(der)]; ok {
		return wp.Value()
	}
	return nil
}

// certEntry names one cache entry for its cleanup.
type certEntry struct {
	key string
	wp  weak.Pointer[x509.Certificate]
}

// forget removes e once its certificate has been collected, unless the
// entry already holds a newer parse of the same bytes.
func (c *peerCertCache) forget(e certEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.m[e.key]; ok && cur == e.wp {
		delete(c.m, e.key)
	}
}
