package rustls

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"slices"
	"time"
)

// Resumption must never let in a client that a full handshake with the
// resuming config would refuse. rustls checks the suite, the TLS version,
// the SNI name and extended master secret when it resumes, but not who the
// client is: it restores the client certificates stored with the session
// without verifying them again. So a SessionStore is wrapped: every session
// is stored under, and with, a fingerprint of the verification policy of
// the config that made it, and a lookup from a config with another policy
// misses (a full handshake follows). A session whose client certificates
// have expired since, or that is older than maxSessionAge, misses too. And
// since the store may be shared, even writable by others, every value is
// sealed under a secret key, bound to the store key it is put under
// (session_seal.go): gorustls only resumes sessions it made itself.

// maxSessionAge bounds how old a stored session may be when resumed
// (crypto/tls's limit for tickets, TLS 1.2 sessions included).
const maxSessionAge = 7 * 24 * time.Hour

// policyFingerprint hashes what decides which clients a server config lets
// in: the client-auth mode, the client CA certificates and the CRLs. Order
// and duplicates do not matter; any other change gives another value.
func policyFingerprint(auth ClientAuth, caPEMs [][]byte, crlPEMs [][]byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte("gorustls session policy v1\x00"))
	h.Write([]byte{byte(auth)})
	if auth != NoClientCert {
		for _, set := range [][][]byte{pemDERs(caPEMs, "CERTIFICATE"), pemDERs(crlPEMs, "X509 CRL")} {
			var n [8]byte
			binary.BigEndian.PutUint64(n[:], uint64(len(set)))
			h.Write(n[:])
			for _, der := range set {
				binary.BigEndian.PutUint64(n[:], uint64(len(der)))
				h.Write(n[:])
				h.Write(der)
			}
		}
	}
	var fp [sha256.Size]byte
	h.Sum(fp[:0])
	return fp
}

// pemDERs returns the DER of every block of type typ in the bundles,
// sorted, without duplicates.
func pemDERs(bundles [][]byte, typ string) [][]byte {
	var out [][]byte
	for _, b := range bundles {
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type == typ {
				out = append(out, blk.Bytes)
			}
		}
	}
	slices.SortFunc(out, bytes.Compare)
	return slices.CompactFunc(out, bytes.Equal)
}

// policyStore is the SessionStore rustls sees when the user gives one: it
// prefixes keys with the config's policy fingerprint, seals values under
// the config's SessionStoreKey (session_seal.go), and its Get refuses
// sessions that do not open or that a full handshake would not grant.
type policyStore struct {
	inner  SessionStore
	fp     [sha256.Size]byte
	auth   ClientAuth
	sealer *sessionSealer
}

func newPolicyStore(inner SessionStore, fp [sha256.Size]byte, auth ClientAuth, sealer *sessionSealer) *policyStore {
	return &policyStore{inner: inner, fp: fp, auth: auth, sealer: sealer}
}

// internal reports whether the wrapped store is gorustls's own
// MemorySessionStore: then no user code runs behind Get and Put, and they
// never block beyond a short mutex, so the handshake calls them as it
// calls its own code (no callback bookkeeping, no goroutine of its own).
func (s *policyStore) internal() bool {
	_, ok := s.inner.(*MemorySessionStore)
	return ok
}

func (s *policyStore) key(key []byte) []byte {
	return append(s.fp[:len(s.fp):len(s.fp)], key...)
}

// Get implements SessionStore.
func (s *policyStore) Get(key []byte, remove bool) ([]byte, bool) {
	k := s.key(key)
	sealed, ok := s.inner.Get(k, remove)
	if !ok {
		return nil, false
	}
	// A value that does not open is a miss. When rustls only looks (TLS
	// 1.2) it stays in the store: it may open under another process's
	// keys, and whoever wrote a bad one can delete it anyway.
	v, ok := s.sealer.open(k, sealed)
	if !ok {
		return nil, false
	}
	if !s.grants(v, time.Now()) {
		if !remove {
			s.inner.Get(k, true) // a TLS 1.2 session: never useful again
		}
		return nil, false
	}
	return v, true
}

// Put implements SessionStore.
func (s *policyStore) Put(key, value []byte) bool {
	k := s.key(key)
	return s.inner.Put(k, s.sealer.seal(k, value))
}

// grants reports whether resuming the stored session (rustls's encoding,
// see parseServerSession) lets in no one that a full handshake now would
// refuse. Anything it cannot read is refused: a miss only costs a full
// handshake.
func (s *policyStore) grants(value []byte, now time.Time) bool {
	sess, ok := parseServerSession(value)
	if !ok {
		return false
	}
	created := time.Unix(int64(min(sess.created, 1<<62)), 0)
	if now.Sub(created) > maxSessionAge {
		return false
	}
	switch {
	case s.auth == RequireAndVerifyClientCert && len(sess.clientCerts) == 0:
		return false
	case s.auth == NoClientCert && len(sess.clientCerts) > 0:
		return false
	}
	for _, der := range sess.clientCerts {
		c, err := x509.ParseCertificate(der)
		if err != nil || now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return false
		}
	}
	return true
}

// serverSession is what gorustls reads of a stored rustls session.
type serverSession struct {
	clientCerts [][]byte // the client's chain as verified when the session was made
	created     uint64   // seconds since the Unix epoch
}

// parseServerSession reads rustls 0.23's encoding of a server session
// (ServerSessionValue): an optional SNI name (flag byte, 8-bit length),
// version (2), suite (2), master secret (8-bit length), extended master
// secret flag (1), an optional client chain (flag byte, 24-bit list
// length, each certificate with a 24-bit length), optional ALPN (flag,
// 8-bit length), application data (16-bit length), creation time (8,
// seconds) and age obfuscation (4). Any deviation, trailing bytes
// included, fails: resumption then falls back to a full handshake.
func parseServerSession(b []byte) (serverSession, bool) {
	r := wireReader{b: b}
	var s serverSession
	if r.flag() {
		r.skip(int(r.uint(1)))
	}
	r.skip(2 + 2)
	r.skip(int(r.uint(1)))
	r.skip(1)
	if r.flag() {
		list := wireReader{b: r.bytes(int(r.uint(3)))}
		for !r.bad && !list.bad && len(list.b) > 0 {
			der := list.bytes(int(list.uint(3)))
			if len(der) == 0 {
				list.bad = true
			}
			s.clientCerts = append(s.clientCerts, der)
		}
		if list.bad || len(s.clientCerts) == 0 {
			return serverSession{}, false
		}
	}
	if r.flag() {
		r.skip(int(r.uint(1)))
	}
	r.skip(int(r.uint(2)))
	s.created = r.uint(8)
	r.skip(4)
	if r.bad || len(r.b) != 0 {
		return serverSession{}, false
	}
	return s, true
}
