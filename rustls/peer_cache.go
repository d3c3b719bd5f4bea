package rustls

import (
	"crypto/x509"
	"encoding/binary"
	"strings"
	"sync"
	"time"
)

// peerCache remembers, per config, the peer chains its streams saw lately
// (a client mostly sees the same few servers, a server the same client
// chains): their certificates parsed by crypto/x509, and the chains
// crypto/x509 built from them (VerifiedChains) with the time span those
// hold for. A connection presenting a chain already seen reuses both
// instead of parsing every certificate and checking every signature again
// (crypto/tls likewise shares parsed certificates between connections).
// Parsed certificates are immutable: ConnectionState hands the same ones
// to every connection that saw the chain, as crypto/tls does.
type peerCache struct {
	mu      sync.Mutex
	entries map[string]*peerEntry
}

// peerCacheMax bounds the chains a config remembers; the cache starts
// over when it is full.
const peerCacheMax = 64

// peerEntry is one chain: its certificates and the chains built last.
type peerEntry struct {
	certs []*x509.Certificate

	mu          sync.Mutex
	name        string // the server name the chains were built for (client)
	chains      [][]*x509.Certificate
	from, until time.Time // chains hold for a handshake ending in [from, until]
}

// chainKey is the chain's DER, each certificate prefixed by its length.
func chainKey(ders [][]byte) string {
	n := 0
	for _, d := range ders {
		n += 4 + len(d)
	}
	var b strings.Builder
	b.Grow(n)
	var l [4]byte
	for _, d := range ders {
		binary.BigEndian.PutUint32(l[:], uint32(len(d)))
		b.Write(l[:])
		b.Write(d)
	}
	return b.String()
}

// parse returns the chain's parsed certificates (see parsePeerChain) and
// its entry, from the cache when the same chain was seen before.
func (pc *peerCache) parse(ders [][]byte) ([]*x509.Certificate, *peerEntry, *Error) {
	if len(ders) == 0 {
		return nil, nil, nil
	}
	key := chainKey(ders)
	pc.mu.Lock()
	e := pc.entries[key]
	pc.mu.Unlock()
	if e != nil {
		return e.certs, e, nil
	}
	certs, err := parsePeerChain(ders)
	if err != nil {
		return nil, nil, err
	}
	e = &peerEntry{certs: certs}
	pc.mu.Lock()
	if len(pc.entries) >= peerCacheMax || pc.entries == nil {
		pc.entries = make(map[string]*peerEntry)
	}
	pc.entries[key] = e
	pc.mu.Unlock()
	return certs, e, nil
}

// lookup returns a copy of the chains built for name if they hold at at.
func (e *peerEntry) lookup(name string, at time.Time) ([][]*x509.Certificate, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.chains == nil || e.name != name || at.Before(e.from) || at.After(e.until) {
		return nil, false
	}
	out := make([][]*x509.Certificate, len(e.chains))
	for i, ch := range e.chains {
		out[i] = append([]*x509.Certificate(nil), ch...)
	}
	return out, true
}

// store remembers chains crypto/x509 built for name. They hold as long as
// every certificate in them is within its validity period, the only
// time-dependent part of the check.
func (e *peerEntry) store(name string, chains [][]*x509.Certificate) {
	var from, until time.Time
	for _, ch := range chains {
		for _, c := range ch {
			if from.IsZero() || c.NotBefore.After(from) {
				from = c.NotBefore
			}
			if until.IsZero() || c.NotAfter.Before(until) {
				until = c.NotAfter
			}
		}
	}
	saved := make([][]*x509.Certificate, len(chains))
	for i, ch := range chains {
		saved[i] = append([]*x509.Certificate(nil), ch...)
	}
	e.mu.Lock()
	e.name, e.chains, e.from, e.until = name, saved, from, until
	e.mu.Unlock()
}
