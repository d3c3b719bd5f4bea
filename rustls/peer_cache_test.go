package rustls

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPeerCacheSharesParsedChain: a second connection presenting the same
// chain reuses the parsed certificates and the verified chains, but gets
// slices of its own: changing one connection's state changes no other's.
func TestPeerCacheSharesParsedChain(t *testing.T) {
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	c1, _ := rustlsPair(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
	st1 := c1.ConnectionState()
	require.NotEmpty(t, st1.PeerCertificates)
	require.NotEmpty(t, st1.VerifiedChains)
	c2, _ := rustlsPair(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
	st2 := c2.ConnectionState()
	require.NotEmpty(t, st2.VerifiedChains)
	assert.Same(t, st1.PeerCertificates[0], st2.PeerCertificates[0], "parsed once")
	assert.Equal(t, st1.VerifiedChains, st2.VerifiedChains)

	st1.PeerCertificates[0] = nil
	st1.VerifiedChains[0][0] = nil
	st1.VerifiedChains[0] = nil
	st2 = c2.ConnectionState()
	assert.NotNil(t, st2.PeerCertificates[0])
	assert.NotNil(t, st2.VerifiedChains[0])
	assert.NotNil(t, st2.VerifiedChains[0][0])
	c3, _ := rustlsPair(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
	st3 := c3.ConnectionState()
	require.NotEmpty(t, st3.VerifiedChains)
	assert.NotNil(t, st3.PeerCertificates[0])
	assert.NotNil(t, st3.VerifiedChains[0][0])
}

// TestPeerCacheChainsHoldOnlyWhileValid: remembered chains are reused only
// for handshakes that end while every certificate in them is valid, and
// only for the server name they were built for.
func TestPeerCacheChainsHoldOnlyWhileValid(t *testing.T) {
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	c, _ := rustlsPair(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
	st := c.ConnectionState()
	require.NotEmpty(t, st.VerifiedChains)
	e := &peerEntry{certs: st.PeerCertificates}
	e.store("localhost", st.VerifiedChains)
	leaf := st.PeerCertificates[0]
	_, ok := e.lookup("localhost", leaf.NotBefore.Add(time.Hour))
	assert.True(t, ok)
	_, ok = e.lookup("localhost", leaf.NotAfter.Add(time.Second))
	assert.False(t, ok, "after the leaf expired")
	_, ok = e.lookup("localhost", leaf.NotBefore.Add(-time.Second))
	assert.False(t, ok, "before the leaf is valid")
	_, ok = e.lookup("other.example", leaf.NotBefore.Add(time.Hour))
	assert.False(t, ok, "another server name")
}
