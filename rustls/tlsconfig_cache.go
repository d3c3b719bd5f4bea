package rustls

import (
	"container/list"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"hash"
	"reflect"
	"unsafe"
)

// The converted configs of LazyAcceptorFromTLS are cached by what they are
// built from, not by *tls.Config pointer: GetConfigForClient usually
// returns a new *tls.Config per connection (base.Clone() and a change or
// two), and a cache by pointer would build a whole ServerConfig per
// connection (a CPU amplifier from the first ClientHello on) and, since
// each config has its own session cache, never resume.
//
// The key is a digest of the converted options (every field that
// serverOptionsFromTLS sets, see lazyKeyFields) and of the certificate
// (each DER of the chain, and the PKCS #8 encoding of the private key: a
// chain served with another key is another config), plus the identity of
// the two user objects a converted config holds: the VerifyConnection
// func value (the closure itself, not its code: two closures of one
// function with different captured variables are different keys; Clone
// copies the func value, so clones share it) and the KeyLogWriter (by
// ==; a writer whose dynamic value cannot be compared falls back to the
// *tls.Config pointer). The key holds both, so neither can be collected
// and its address reused while the entry lives.
//
// The cache is bounded (LRU). An evicted config is closed once every
// connection it was handed to has tried to start from it (configLife
// counts them), so a connection between Choose and its start never finds
// its config closed; streams already made keep working after Close.

// lazyKeyFields are the ServerOptions fields that serverOptionsFromTLS may
// set and that lazyCacheKey covers (Certificates and GetCertificate are set
// by choose, from the certificate). A test checks that the conversion sets
// no other field.
var lazyKeyFields = []string{"ClientAuth", "ClientCAs", "Versions", "CipherSuites", "NextProtos", "KeyLogWriter", "VerifyConnection"}

// lazyKey identifies a converted config. It is comparable by construction:
// keyLog only holds comparable values.
type lazyKey struct {
	sum    [sha256.Size]byte // options and certificate content
	verify unsafe.Pointer    // the VerifyConnection closure (nil: none)
	keyLog any               // the KeyLogWriter, when comparable
	cfg    *tls.Config       // only when the KeyLogWriter cannot be compared
}

// lazyCacheKey returns the key of the config converted from o (the options
// serverOptionsFromTLS made from cfg) and cert; ok is false when the
// private key cannot be exported (the conversion then fails and says so).
func lazyCacheKey(o *ServerOptions, cert *tls.Certificate, cfg *tls.Config) (k lazyKey, ok bool) {
	kder, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return k, false
	}
	h := sha256.New()
	putBytes(h, []byte("gorustls lazy tls.Config v1"))
	putInt(h, int(o.ClientAuth))
	putBytes(h, o.ClientCAs)
	putInt(h, len(o.Versions))
	for _, v := range o.Versions {
		putInt(h, int(v))
	}
	putInt(h, len(o.CipherSuites))
	for _, s := range o.CipherSuites {
		putInt(h, int(s))
	}
	putInt(h, len(o.NextProtos))
	for _, p := range o.NextProtos {
		putBytes(h, []byte(p))
	}
	putInt(h, len(cert.Certificate))
	for _, der := range cert.Certificate {
		putBytes(h, der)
	}
	putBytes(h, kder)
	clear(kder)
	h.Sum(k.sum[:0])
	if f := o.VerifyConnection; f != nil {
		// A func value is a pointer to its closure (code and captured
		// variables); reflect only shows the code pointer, which closures
		// of one function share.
		k.verify = *(*unsafe.Pointer)(unsafe.Pointer(&f))
	}
	if w := o.KeyLogWriter; w != nil {
		if reflect.ValueOf(w).Comparable() {
			k.keyLog = w
		} else {
			k.cfg = cfg
		}
	}
	return k, true
}

func putInt(h hash.Hash, n int) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	h.Write(b[:])
}

func putBytes(h hash.Hash, b []byte) {
	putInt(h, len(b))
	h.Write(b)
}

// lazyCache is a bounded LRU of converted configs. Its methods are called
// with lazyFromTLS.mu held.
type lazyCache struct {
	max      int
	order    *list.List // of *lazyEntry, least recently used first
	entries  map[lazyKey]*list.Element
	retiring []*lazyEntry // evicted, not closed yet: handed out, not yet tried
}

type lazyEntry struct {
	key    lazyKey
	sc     *ServerConfig
	handed uint64 // how many times get or add returned sc
}

func newLazyCache(max int) *lazyCache {
	return &lazyCache{max: max, order: list.New(), entries: map[lazyKey]*list.Element{}}
}

// get returns the config cached under k, counting it as handed out.
func (c *lazyCache) get(k lazyKey) (*ServerConfig, bool) {
	c.sweep()
	e, ok := c.entries[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToBack(e)
	ent := e.Value.(*lazyEntry)
	ent.handed++
	return ent.sc, true
}

// add caches sc under k (handed out once), evicting the least recently
// used configs beyond max.
func (c *lazyCache) add(k lazyKey, sc *ServerConfig) {
	c.entries[k] = c.order.PushBack(&lazyEntry{key: k, sc: sc, handed: 1})
	for c.order.Len() > c.max {
		old := c.order.Remove(c.order.Front()).(*lazyEntry)
		delete(c.entries, old.key)
		c.retiring = append(c.retiring, old)
	}
	c.sweep()
}

// sweep closes the evicted configs that every connection they were handed
// to has tried. Beyond max of them waiting, the oldest are let go without
// Close: a caller may still start a connection from one (Choose's result
// is kept until IntoStream), so only the config's own cleanup, once
// nothing references it, frees it.
func (c *lazyCache) sweep() {
	keep := c.retiring[:0]
	for i, e := range c.retiring {
		switch {
		case e.sc.life.acquired() >= e.handed:
			e.sc.Close()
		case len(c.retiring)-i > c.max:
			// dropped: freed by its cleanup when unreachable
		default:
			keep = append(keep, e)
		}
	}
	clear(c.retiring[len(keep):])
	c.retiring = keep
}

// len returns the number of cached configs (evicted ones excluded).
func (c *lazyCache) len() int { return c.order.Len() }
