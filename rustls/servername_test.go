package rustls

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/gorustls/gorustls/cgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckServerName(t *testing.T) {
	good := []string{"localhost", "example.com", "example.com.", "a-b_c.example", "127.0.0.1", "::1", "xn--bcher-kva.example",
		strings.Repeat("a", 63) + ".example"}
	for _, n := range good {
		assert.NoError(t, checkServerName("connect", n), n)
	}
	bad := map[string]string{
		"":                               "empty",
		"localhost\x00.attacker.example": "NUL byte at offset 9",
		"bücher.example":                 "not ASCII",
		"a..b":                           "empty label",
		".example":                       "empty label",
		"exa mple.com":                   "cannot appear",
		"host/path":                      "cannot appear",
		"[::1]":                          "cannot appear",
		"*.example.com":                  "cannot appear",
		strings.Repeat("a", 64) + ".x":   "longer than 63",
		strings.Repeat("a.", 127) + "ab": "longer than 253",
	}
	for n, why := range bad {
		err := checkServerName("connect", n)
		e := requireCode(t, err, CodeInvalidDNSName)
		assert.Contains(t, e.Detail, why, "%q", n)
		assert.ErrorIs(t, err, ErrInvalidInput)
	}
}

// TestConnectRefusesNULName: the C string would end at the NUL, so the
// certificate would be checked for "localhost" while the Stream reports
// the whole name. The name is refused before any C call, through every
// client entry point.
func TestConnectRefusesNULName(t *testing.T) {
	ccfg := clientConfig(t, nil)
	name := "localhost\x00.attacker.example"
	before := cgo.LiveConns()

	c, s := net.Pipe()
	defer s.Close()
	_, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), c, name)
	requireCode(t, err, CodeInvalidDNSName)
	assert.ErrorIs(t, err, ErrInvalidInput)
	assert.Contains(t, err.Error(), `\x00`)

	c2, s2 := net.Pipe()
	defer c2.Close()
	defer s2.Close()
	_, err = NewConnector(ccfg, StreamOptions{}).Client(c2, name)
	requireCode(t, err, CodeInvalidDNSName)
	assert.Equal(t, before, cgo.LiveConns(), "no C connection was made")
}

// TestServerNamesDoNotAccumulate: each distinct server name used to be
// kept in C memory for the life of the process (rustls-ffi 0.15.3 borrowed
// it); with 0.15.7 the C copy is freed with the call, so 20,000 distinct
// long names leave the C heap where it was.
func TestServerNamesDoNotAccumulate(t *testing.T) {
	if cgo.MallocInUse() < 0 {
		t.Skip("the C library does not report its heap (not glibc 2.33+)")
	}
	ccfg := clientConfig(t, nil)
	conn := NewConnector(ccfg, StreamOptions{})
	open := func(i int) {
		c, s := net.Pipe()
		defer s.Close()
		st, err := conn.Client(c, strings.Repeat("x.", 40)+fmt.Sprintf("n%06d.example", i))
		require.NoError(t, err)
		require.NoError(t, st.Close())
	}
	for i := 0; i < 200; i++ { // warm up allocator arenas and pools
		open(i)
	}
	settle()
	before := cgo.MallocInUse()
	for i := 0; i < 20000; i++ {
		open(1000 + i)
	}
	settle()
	grew := cgo.MallocInUse() - before
	// Interning would keep 20,000 x ~96-byte blocks: about 1.9 MB.
	assert.Less(t, grew, int64(256<<10), "C heap grew by %d bytes over 20,000 distinct server names", grew)
}
