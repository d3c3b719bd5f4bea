package rustls

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
)

// Every value gorustls puts in a SessionStore is sealed: encrypted and
// authenticated with AES-256-GCM under a secret key (SessionStoreKey), with
// the store key it is put under (which starts with the config's policy
// fingerprint) as additional data. A value that does not open under one of
// the config's keys, for that very store key, is a miss: whoever can write
// to the store but does not hold the key can delete sessions and put back
// old sealed values under their own store keys, but cannot make or change
// one, nor move one to another key; whoever can read the store learns
// nothing of the sessions (their resumption secrets, the client chains).
//
// Sealed value: version (1 byte) | salt (24 random bytes) | AES-256-GCM
// ciphertext and tag. Each value has a key of its own, HMAC-SHA256 of the
// salt under the config's sealing key, so GCM's nonce (fixed: each key
// seals one value) can never repeat under a key and a sealing key has no
// GCM usage limit.

// SessionStoreKeySize is the length of a SessionStoreKey.
const SessionStoreKeySize = 32

const (
	sealVersion  = 1
	sealSaltSize = 24
	// sealOverhead is what sealing adds to a value.
	sealOverhead = 1 + sealSaltSize + 16
	// maxSealedValue bounds what Get tries to open: a longer value could
	// not fit rustls's buffer once opened anyway.
	maxSealedValue = 1 << 17
)

// sealLabel separates gorustls's uses of a SessionStoreKey.
var sealLabel = []byte("gorustls session store v1")

// processStoreKey is the SessionStoreKey of configs that give none:
// random, made once per process, so configs in one process share sessions.
var processStoreKey = sync.OnceValue(func() []byte {
	k := make([]byte, SessionStoreKeySize)
	_, _ = rand.Read(k) // never fails (crypto/rand crashes the program instead)
	return k
})

// sessionSealer seals and opens session values for one config.
type sessionSealer struct {
	keys [][sha256.Size]byte // sealing keys derived from the config's keys; keys[0] seals
}

// newSessionSealer derives the sealing keys from user keys (each
// SessionStoreKeySize bytes, already checked).
func newSessionSealer(userKeys [][]byte) *sessionSealer {
	s := &sessionSealer{}
	for _, k := range userKeys {
		m := hmac.New(sha256.New, k)
		m.Write(sealLabel)
		var d [sha256.Size]byte
		m.Sum(d[:0])
		s.keys = append(s.keys, d)
	}
	return s
}

// sealAEAD returns the AEAD for one value: its key is the HMAC of the salt
// under key.
func sealAEAD(key *[sha256.Size]byte, salt []byte) cipher.AEAD {
	m := hmac.New(sha256.New, key[:])
	m.Write(salt)
	var vk [sha256.Size]byte
	m.Sum(vk[:0])
	b, err := aes.NewCipher(vk[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(err) // the standard nonce and tag sizes are always valid
	}
	return g
}

// sealAD is the additional data: the format version and the store key.
func sealAD(storeKey []byte) []byte {
	ad := make([]byte, 0, len(sealLabel)+1+len(storeKey))
	ad = append(ad, sealLabel...)
	ad = append(ad, sealVersion)
	return append(ad, storeKey...)
}

// seal returns value sealed for storage under storeKey.
func (s *sessionSealer) seal(storeKey, value []byte) []byte {
	out := make([]byte, 1+sealSaltSize, sealOverhead+len(value))
	out[0] = sealVersion
	salt := out[1:]
	_, _ = rand.Read(salt)
	var nonce [12]byte // each value has a key of its own (see above)
	return sealAEAD(&s.keys[0], salt).Seal(out, nonce[:], value, sealAD(storeKey))
}

// open returns the value sealed in sealed for storeKey, if one of the
// config's keys opens it.
func (s *sessionSealer) open(storeKey, sealed []byte) ([]byte, bool) {
	if len(sealed) < sealOverhead || len(sealed) > maxSealedValue || sealed[0] != sealVersion {
		return nil, false
	}
	salt, ct := sealed[1:1+sealSaltSize], sealed[1+sealSaltSize:]
	ad := sealAD(storeKey)
	var nonce [12]byte
	for i := range s.keys {
		if v, err := sealAEAD(&s.keys[i], salt).Open(nil, nonce[:], ct, ad); err == nil {
			return v, true
		}
	}
	return nil, false
}

// storeKeys checks ServerOptions.SessionStoreKey and SessionStoreKeys and
// returns the keys the config seals (first) and opens with.
func storeKeys(o *ServerOptions, op string) ([][]byte, error) {
	switch {
	case o.SessionStoreKey != nil && o.SessionStoreKeys != nil:
		return nil, inputErr(op, "SessionStoreKey and SessionStoreKeys are both set: give one")
	case o.SessionStore == nil && (o.SessionStoreKey != nil || o.SessionStoreKeys != nil):
		return nil, inputErr(op, "SessionStoreKey(s) set without a SessionStore: rustls's own cache needs no key")
	case o.SessionStore == nil:
		return nil, nil
	case o.SessionStoreKey != nil:
		if len(o.SessionStoreKey) != SessionStoreKeySize {
			return nil, inputErr(op, "SessionStoreKey is %d bytes; it must be %d random bytes", len(o.SessionStoreKey), SessionStoreKeySize)
		}
		if isZero(o.SessionStoreKey) {
			return nil, inputErr(op, "SessionStoreKey is all zeros; it must be %d random bytes", SessionStoreKeySize)
		}
		return [][]byte{o.SessionStoreKey}, nil
	case o.SessionStoreKeys != nil:
		if len(o.SessionStoreKeys) == 0 {
			return nil, inputErr(op, "SessionStoreKeys is empty: it needs at least the key that seals")
		}
		for i, k := range o.SessionStoreKeys {
			if len(k) != SessionStoreKeySize {
				return nil, inputErr(op, "SessionStoreKeys[%d] is %d bytes; each key must be %d random bytes", i, len(k), SessionStoreKeySize)
			}
			if isZero(k) {
				return nil, inputErr(op, "SessionStoreKeys[%d] is all zeros; each key must be %d random bytes", i, SessionStoreKeySize)
			}
		}
		return o.SessionStoreKeys, nil
	}
	return [][]byte{processStoreKey()}, nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
