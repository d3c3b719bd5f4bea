package rustls

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMemorySessionStoreIsInternal: a MemorySessionStore is gorustls's own
// code, so a server using it runs its handshake steps inline (no
// callback goroutine, no callback bookkeeping) and still resumes; any
// other store is user code and keeps the callback machinery.
func TestMemorySessionStoreIsInternal(t *testing.T) {
	mem := NewMemorySessionStore(0)
	scfg := serverConfig(t, func(o *ServerOptions) { o.SessionStore = mem })
	ccfg := clientConfig(t, nil)
	c, s := rustlsPair(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
	assert.True(t, s.cb.storeInternal)
	assert.False(t, s.cb.userCode, "a MemorySessionStore is not user code")
	// The client gets its tickets with the server's first data.
	_, err := s.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, s.Flush())
	_, err = c.Read(make([]byte, 1))
	require.NoError(t, err)
	require.Positive(t, mem.Len(), "tickets were stored")

	c2, _ := rustlsPair(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
	assert.True(t, c2.ConnectionState().DidResume, "resumed from the MemorySessionStore")

	user := serverConfig(t, func(o *ServerOptions) { o.SessionStore = newCountingStore() })
	_, s3 := rustlsPair(t, user, ccfg, StreamOptions{}, StreamOptions{})
	assert.False(t, s3.cb.storeInternal)
	assert.True(t, s3.cb.userCode, "any other store is user code")
}
