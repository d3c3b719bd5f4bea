package rustls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestLazy is LazyAcceptorFromTLS's chooser with a cache of max configs.
func newTestLazy(t *testing.T, base *tls.Config, x *FromTLSOptions, max int) *lazyFromTLS {
	t.Helper()
	if x == nil {
		x = &FromTLSOptions{}
	}
	_, err := LazyAcceptorFromTLS(base, x) // the checks it makes
	require.NoError(t, err)
	lz := &lazyFromTLS{base: base, x: x, cache: newLazyCache(max)}
	if len(x.ClientCAsPEM) > 0 {
		lz.clientCAs = x509.NewCertPool()
		require.True(t, lz.clientCAs.AppendCertsFromPEM(x.ClientCAsPEM))
	}
	return lz
}

// lazyConnect makes one connection through lz to name and returns what
// the client saw.
func lazyConnect(t *testing.T, lz *lazyFromTLS, ccfg *ClientConfig, name string) tls.ConnectionState {
	t.Helper()
	conn, res := lazyServe(t, &LazyAcceptor{Choose: lz.choose, Options: StreamOptions{WriteThrough: true}})
	require.NoError(t, conn.SetDeadline(time.Now().Add(time.Minute)))
	c, err := NewConnector(ccfg, StreamOptions{WriteThrough: true}).Connect(testCtx(t), conn, name)
	require.NoError(t, err, name)
	defer c.Close()
	_, err = c.Write([]byte("z"))
	require.NoError(t, err)
	_, err = c.Read(make([]byte, 1)) // the echo, after the tickets
	require.NoError(t, err)
	require.NoError(t, <-res)
	return c.ConnectionState()
}

// TestLazyFromTLSCacheSharesClones: clones of one config, and configs made
// anew with the same content (a copied tls.Certificate, equal slices),
// share one converted config; its clients resume.
func TestLazyFromTLSCacheSharesClones(t *testing.T) {
	_, srv, _ := pki(t)
	cert := srv.tlsCert(t)
	verify := func(tls.ConnectionState) error { return nil }
	base := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}, VerifyConnection: verify}
	lz := newTestLazy(t, base, nil, 8)
	h := &ClientHello{ServerName: "localhost"}

	var got []*ServerConfig
	for _, cfg := range []*tls.Config{
		base,
		base.Clone(),
		base.Clone(),
		{Certificates: []tls.Certificate{{Certificate: slices.Clone(cert.Certificate), PrivateKey: cert.PrivateKey}}, NextProtos: []string{"h2"}, VerifyConnection: verify},
	} {
		lz.base = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return cfg, nil }}
		sc, err := lz.choose(h)
		require.NoError(t, err)
		got = append(got, sc)
	}
	for _, sc := range got[1:] {
		assert.Same(t, got[0], sc)
	}
	assert.Equal(t, 1, lz.cache.len())
}

// TestLazyFromTLSCacheSeparatesConfigs: configs that differ in anything
// the conversion carries over never share a converted config: client
// authentication, certificates, the private key, ALPN, versions, suites,
// the VerifyConnection closure (even one of the same code) and the
// KeyLogWriter. A config whose ClientCAs differ from the PEM is refused
// even after a matching one was cached.
func TestLazyFromTLSCacheSeparatesConfigs(t *testing.T) {
	ca, srv, _ := pki(t)
	other := newTestCA(t, "other CA").leaf(t, leafOpts{}, "localhost")
	cert := srv.tlsCert(t)
	otherCert := other.tlsCert(t)
	base := &tls.Config{Certificates: []tls.Certificate{cert}}
	x := &FromTLSOptions{ClientCAsPEM: ca.certPEM}
	lz := newTestLazy(t, base, x, 64)
	h := &ClientHello{ServerName: "localhost"}
	choose := func(cfg *tls.Config) (*ServerConfig, error) {
		lz.base = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return cfg, nil }}
		return lz.choose(h)
	}
	first, err := choose(base)
	require.NoError(t, err)
	// Closures made at one call site share their code (made at two, the
	// compiler may inline them into two functions).
	var verifiers []func(tls.ConnectionState) error
	for _, tag := range []string{"a", "b"} {
		verifiers = append(verifiers, func(tls.ConnectionState) error { return fmt.Errorf("%s", tag) })
	}
	require.Equal(t, reflect.ValueOf(verifiers[0]).Pointer(), reflect.ValueOf(verifiers[1]).Pointer(), "one code")
	seen := []*ServerConfig{first}
	for name, mod := range map[string]func(c *tls.Config){
		"ClientAuth required": func(c *tls.Config) {
			c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, ca.pool()
		},
		"ClientAuth optional": func(c *tls.Config) {
			c.ClientAuth, c.ClientCAs = tls.VerifyClientCertIfGiven, ca.pool()
		},
		"another certificate": func(c *tls.Config) { c.Certificates = []tls.Certificate{otherCert} },
		"another chain": func(c *tls.Config) {
			c.Certificates = []tls.Certificate{{Certificate: cert.Certificate[:1], PrivateKey: cert.PrivateKey}}
		},
		"NextProtos":  func(c *tls.Config) { c.NextProtos = []string{"h2"} },
		"MinVersion":  func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 },
		"MaxVersion":  func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 },
		"CipherSuite": func(c *tls.Config) { c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256} },
		"VerifyConnection": func(c *tls.Config) {
			c.VerifyConnection = verifiers[0]
		},
		"VerifyConnection, same code, other closure": func(c *tls.Config) {
			c.VerifyConnection = verifiers[1]
		},
		"KeyLogWriter": func(c *tls.Config) { c.KeyLogWriter = &bytes.Buffer{} },
	} {
		c := base.Clone()
		mod(c)
		sc, err := choose(c)
		require.NoError(t, err, name)
		for _, prev := range seen {
			assert.NotSame(t, prev, sc, name)
		}
		seen = append(seen, sc)
		again, err := choose(c.Clone())
		require.NoError(t, err, name)
		assert.Same(t, sc, again, "%s: a clone shares it", name)
	}

	t.Run("the private key", func(t *testing.T) {
		c := base.Clone()
		c.Certificates = []tls.Certificate{{Certificate: cert.Certificate, PrivateKey: otherCert.PrivateKey}}
		sc, err := choose(c)
		if err == nil {
			for _, prev := range seen {
				assert.NotSame(t, prev, sc)
			}
		}
	})
	t.Run("ClientCAs other than the PEM", func(t *testing.T) {
		good := base.Clone()
		good.ClientAuth, good.ClientCAs = tls.RequireAndVerifyClientCert, ca.pool()
		_, err := choose(good)
		require.NoError(t, err)
		bad := good.Clone()
		bad.ClientCAs = newTestCA(t, "not the PEM's CA").pool()
		_, err = choose(bad)
		var re *RefuseError
		require.ErrorAs(t, err, &re)
		assert.Contains(t, re.Reason, "ClientCAs")
	})
	t.Run("the right closure runs", func(t *testing.T) {
		var mu sync.Mutex
		var ran []string
		leaf := sharedCA.leaf(t, leafOpts{}, "a.test", "b.test").tlsCert(t)
		byName := map[string]*tls.Config{}
		for _, tag := range []string{"a", "b"} { // one call site: one code
			byName[tag+".test"] = &tls.Config{Certificates: []tls.Certificate{leaf}, VerifyConnection: func(tls.ConnectionState) error {
				mu.Lock()
				defer mu.Unlock()
				ran = append(ran, tag)
				return nil
			}}
		}
		require.Equal(t, reflect.ValueOf(byName["a.test"].VerifyConnection).Pointer(), reflect.ValueOf(byName["b.test"].VerifyConnection).Pointer())
		lz2 := newTestLazy(t, byName["a.test"], nil, 8)
		lz2.base = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			return byName[h.ServerName].Clone(), nil
		}}
		ccfg := clientConfig(t, func(o *ClientOptions) { o.RootCAs = sharedCA.certPEM })
		for _, n := range []string{"a.test", "b.test", "a.test", "b.test"} {
			lazyConnect(t, lz2, ccfg, n)
		}
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []string{"a", "b", "a", "b"}, ran)
	})
	t.Run("a KeyLogWriter that cannot be compared", func(t *testing.T) {
		var lines [][]byte
		w := writerFunc(func(p []byte) (int, error) { lines = append(lines, bytes.Clone(p)); return len(p), nil })
		c := base.Clone()
		c.KeyLogWriter = w
		sc, err := choose(c)
		require.NoError(t, err)
		again, err := choose(c)
		require.NoError(t, err)
		assert.Same(t, sc, again, "the same *tls.Config")
		clone, err := choose(c.Clone())
		require.NoError(t, err)
		assert.NotSame(t, sc, clone, "clones cannot be told apart from configs with another writer")
	})
}

// writerFunc is an io.Writer whose values cannot be compared.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestLazyFromTLSCacheBounded: a GetConfigForClient that returns ever new
// configs does not grow the cache beyond its bound; evicted configs are
// closed once the connection they were handed to has started from them
// (connections made from them keep working), and a config handed out but
// not yet used is not closed under that connection.
func TestLazyFromTLSCacheBounded(t *testing.T) {
	_, srv, _ := pki(t)
	cert := srv.tlsCert(t)
	const max = 4
	n := 0
	base := &tls.Config{Certificates: []tls.Certificate{cert}}
	lz := newTestLazy(t, base, nil, max)
	lz.base = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c := base.Clone()
		n++
		c.NextProtos = []string{fmt.Sprintf("p%d", n)} // another config every time
		return c, nil
	}}
	ccfg := clientConfig(t, nil)
	var made []*ServerConfig
	for range 3 * max {
		sc, err := lz.choose(&ClientHello{ServerName: "localhost"})
		require.NoError(t, err)
		made = append(made, sc)
		c, s := mustPair(t, sc, ccfg) // starts a connection from it
		pingPong(t, c, s)
		defer c.Close()
		defer s.Close()
		assert.LessOrEqual(t, lz.cache.len(), max)
	}
	assert.Equal(t, max, lz.cache.len())
	lz.mu.Lock()
	lz.cache.sweep()
	assert.Empty(t, lz.cache.retiring, "every evicted config was used, and closed")
	lz.mu.Unlock()
	for i, sc := range made {
		sc.life.mu.Lock()
		closed := sc.life.closed
		sc.life.mu.Unlock()
		assert.Equal(t, i < len(made)-max, closed, "config %d", i)
	}

	t.Run("handed out, not yet used", func(t *testing.T) {
		pending, err := lz.choose(&ClientHello{ServerName: "localhost"})
		require.NoError(t, err)
		for range max {
			_, err := lz.choose(&ClientHello{ServerName: "localhost"})
			require.NoError(t, err)
		}
		// pending was evicted meanwhile, but its connection starts now.
		c, s := mustPair(t, pending, ccfg)
		pingPong(t, c, s)
		c.Close()
		s.Close()
		_, err = lz.choose(&ClientHello{ServerName: "localhost"})
		require.NoError(t, err)
		pending.life.mu.Lock()
		closed := pending.life.closed
		pending.life.mu.Unlock()
		assert.True(t, closed, "closed once its connection started")
	})
	t.Run("handed out, never used", func(t *testing.T) {
		for range 10 * max {
			_, err := lz.choose(&ClientHello{ServerName: "localhost"})
			require.NoError(t, err)
		}
		lz.mu.Lock()
		defer lz.mu.Unlock()
		assert.LessOrEqual(t, len(lz.cache.retiring), max)
		assert.LessOrEqual(t, lz.cache.len(), max)
	})
}

// TestLazyCacheKeyCoversConversion: the conversion sets no ServerOptions
// field that the cache key leaves out, and a change in any field the key
// covers, in the chain or in the private key, changes the key.
func TestLazyCacheKeyCoversConversion(t *testing.T) {
	ca, srv, _ := pki(t)
	otherCA := newTestCA(t, "other CA")
	other := otherCA.leaf(t, leafOpts{}, "localhost").tlsCert(t)
	cert := srv.tlsCert(t)
	full := &tls.Config{
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        ca.pool(),
		MinVersion:       tls.VersionTLS12,
		MaxVersion:       tls.VersionTLS13,
		CipherSuites:     []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		NextProtos:       []string{"h2"},
		KeyLogWriter:     &bytes.Buffer{},
		VerifyConnection: func(tls.ConnectionState) error { return nil },
	}
	o, err := serverOptionsFromTLS(full, &FromTLSOptions{ClientCAsPEM: ca.certPEM}, nil)
	require.NoError(t, err)
	ov := reflect.ValueOf(o)
	for i := range ov.NumField() {
		name := ov.Type().Field(i).Name
		if !ov.Field(i).IsZero() {
			assert.Contains(t, lazyKeyFields, name, "serverOptionsFromTLS sets %s: the lazy cache key must cover it", name)
		}
	}
	for _, name := range lazyKeyFields {
		assert.False(t, ov.FieldByName(name).IsZero(), "the test sets %s", name)
	}

	key := func(o ServerOptions, c *tls.Certificate) lazyKey {
		k, ok := lazyCacheKey(&o, c, full)
		require.True(t, ok)
		return k
	}
	// Keys compare as the cache's map compares them (==).
	base := key(o, &cert)
	assert.True(t, base == key(o, &tls.Certificate{Certificate: slices.Clone(cert.Certificate), PrivateKey: cert.PrivateKey}))
	for name, mod := range map[string]func(o *ServerOptions){
		"ClientAuth":       func(o *ServerOptions) { o.ClientAuth = VerifyClientCertIfGiven },
		"ClientCAs":        func(o *ServerOptions) { o.ClientCAs = otherCA.certPEM },
		"Versions":         func(o *ServerOptions) { o.Versions = o.Versions[:1] },
		"CipherSuites":     func(o *ServerOptions) { o.CipherSuites = o.CipherSuites[:len(o.CipherSuites)-1] },
		"NextProtos":       func(o *ServerOptions) { o.NextProtos = []string{"h3"} },
		"NextProtos split": func(o *ServerOptions) { o.NextProtos = []string{"h", "2"} },
		"KeyLogWriter":     func(o *ServerOptions) { o.KeyLogWriter = &bytes.Buffer{} },
		"VerifyConnection": func(o *ServerOptions) { o.VerifyConnection = func(tls.ConnectionState) error { return nil } },
	} {
		m := o
		mod(&m)
		assert.True(t, base != key(m, &cert), name)
	}
	assert.True(t, base != key(o, &other), "another certificate")
	assert.True(t, base != key(o, &tls.Certificate{Certificate: cert.Certificate, PrivateKey: other.PrivateKey}), "another private key")
	assert.True(t, base != key(o, &tls.Certificate{Certificate: cert.Certificate[:1], PrivateKey: cert.PrivateKey}), "another chain")
	_, ok := lazyCacheKey(&o, &tls.Certificate{Certificate: cert.Certificate, PrivateKey: struct{}{}}, full)
	assert.False(t, ok, "a key that cannot be exported is not cached")
}
