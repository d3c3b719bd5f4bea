package rustls

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorustls/gorustls/cgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lineRecorder is an io.Writer that keeps each Write call separately.
type lineRecorder struct {
	mu     sync.Mutex
	writes []string
}

func (r *lineRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *lineRecorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

// labels returns the NSS labels of key-log lines.
func labels(lines []string) map[string]int {
	out := map[string]int{}
	for _, l := range lines {
		out[strings.Fields(l)[0]]++
	}
	return out
}

// withoutLabel drops the lines with the given label.
func withoutLabel(lines []string, label string) []string {
	var out []string
	for _, l := range lines {
		if !strings.HasPrefix(l, label+" ") {
			out = append(out, l)
		}
	}
	return out
}

// splitLines splits key-log text into lines.
func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l+"\n")
		}
	}
	return out
}

// checkNSSLines checks the shape of NSS key log lines: LABEL, 64 hex digits
// of client random, then the secret in hex; one line per Write.
func checkNSSLines(t testing.TB, lines []string) {
	t.Helper()
	require.NotEmpty(t, lines)
	for _, l := range lines {
		require.True(t, strings.HasSuffix(l, "\n"), "one line per Write: %q", l)
		f := strings.Fields(l)
		require.Len(t, f, 3, "line %q", l)
		assert.Len(t, f[1], 64, "client random is 32 bytes")
		assert.GreaterOrEqual(t, len(f[2]), 64, "secret")
		assert.Equal(t, strings.ToLower(f[1]+f[2]), f[1]+f[2], "lower-case hex")
	}
}

// TestKeyLogServerWriter compares the gorustls server's key log with the
// crypto/tls client's, for both TLS versions: same labels, same secrets.
func TestKeyLogServerWriter(t *testing.T) {
	for _, v := range []uint16{VersionTLS13, VersionTLS12} {
		t.Run(versionName(v), func(t *testing.T) {
			rec := &lineRecorder{}
			scfg := serverConfig(t, func(o *ServerOptions) { o.KeyLogWriter = rec; o.Versions = []uint16{v} })
			var goLog bytes.Buffer
			g := goTLSClientConfig(t)
			g.KeyLogWriter = &goLog
			r := goClientToServer(t, scfg, g)
			require.NoError(t, r.clientErr)
			require.NoError(t, r.serverErr)

			lines := rec.lines()
			checkNSSLines(t, lines)
			got := labels(lines)
			if v == VersionTLS13 {
				for _, l := range []string{"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
					"CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} {
					assert.Equal(t, 1, got[l], "label %s in %v", l, got)
				}
			} else {
				assert.Equal(t, map[string]int{"CLIENT_RANDOM": 1}, got)
			}
			goLines := splitLines(goLog.String())
			require.NotEmpty(t, goLines)
			for _, l := range goLines {
				assert.Contains(t, lines, l, "crypto/tls logged a secret gorustls did not")
			}
		})
	}
}

// TestKeyLogClientWriter does the same from the client side.
func TestKeyLogClientWriter(t *testing.T) {
	for _, v := range []uint16{VersionTLS13, VersionTLS12} {
		t.Run(versionName(v), func(t *testing.T) {
			rec := &lineRecorder{}
			ccfg := clientConfig(t, func(o *ClientOptions) { o.KeyLogWriter = rec; o.Versions = []uint16{v} })
			var goLog bytes.Buffer
			g := goTLSServerConfig(t)
			g.KeyLogWriter = &goLog
			conn, state := goServer(t, g)
			c, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), conn, "localhost")
			require.NoError(t, err)
			defer c.Close()
			<-state
			lines := rec.lines()
			checkNSSLines(t, lines)
			if v == VersionTLS13 {
				assert.Equal(t, 1, labels(lines)["CLIENT_TRAFFIC_SECRET_0"])
			} else {
				assert.Equal(t, map[string]int{"CLIENT_RANDOM": 1}, labels(lines))
			}
			for _, l := range splitLines(goLog.String()) {
				assert.Contains(t, lines, l)
			}
		})
	}
}

// TestKeyLogSeparateConfigs checks that two configs logging at once each get
// only their own connections' secrets.
func TestKeyLogSeparateConfigs(t *testing.T) {
	recS, recC := &lineRecorder{}, &lineRecorder{}
	scfg := serverConfig(t, func(o *ServerOptions) { o.KeyLogWriter = recS })
	ccfg := clientConfig(t, func(o *ClientOptions) { o.KeyLogWriter = recC })
	mustPair(t, scfg, ccfg)
	mustPair(t, scfg, ccfg)
	s, c := recS.lines(), recC.lines()
	checkNSSLines(t, s)
	checkNSSLines(t, c)
	// Both ends log the same secrets of the same two connections, each once.
	// The second connection resumes; on resumption the rustls server also
	// logs CLIENT_EARLY_TRAFFIC_SECRET (the PSK's early secret) although
	// no early data is used, and the client does not.
	assert.Equal(t, 1, labels(s)["CLIENT_EARLY_TRAFFIC_SECRET"])
	assert.ElementsMatch(t, withoutLabel(s, "CLIENT_EARLY_TRAFFIC_SECRET"), c)
	assert.Equal(t, 2, labels(s)["CLIENT_TRAFFIC_SECRET_0"])

	// A config without a writer logs nothing into these.
	before := len(recS.lines())
	mustPair(t, serverConfig(t, nil), clientConfig(t, nil))
	assert.Len(t, recS.lines(), before)
}

func TestKeyLogFromEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.log")
	t.Setenv("SSLKEYLOGFILE", path)
	scfg := serverConfig(t, func(o *ServerOptions) { o.KeyLogFromEnv = true })
	ccfg := clientConfig(t, func(o *ClientOptions) { o.KeyLogFromEnv = true })
	mustPair(t, scfg, ccfg)

	b, err := os.ReadFile(path)
	require.NoError(t, err, "rustls creates the file named by SSLKEYLOGFILE")
	lines := splitLines(string(b))
	checkNSSLines(t, lines)
	// Both the server and the client wrote their secrets: each label twice.
	got := labels(lines)
	assert.Equal(t, 2, got["CLIENT_TRAFFIC_SECRET_0"], "labels %v", got)
	assert.Equal(t, 2, got["SERVER_HANDSHAKE_TRAFFIC_SECRET"], "labels %v", got)

	t.Run("TLS 1.2", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keys12.log")
		t.Setenv("SSLKEYLOGFILE", path)
		ccfg := clientConfig(t, func(o *ClientOptions) { o.KeyLogFromEnv = true; o.Versions = []uint16{VersionTLS12} })
		mustPair(t, serverConfig(t, nil), ccfg)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"CLIENT_RANDOM": 1}, labels(splitLines(string(b))))
	})
}

// freeKeylogSlots counts the key-log slots no live config holds.
func freeKeylogSlots() int {
	var taken []int
	for {
		slot, ok := cgo.AcquireKeylogSlot(func(string, []byte, []byte) {})
		if !ok {
			break
		}
		taken = append(taken, slot)
	}
	for _, s := range taken {
		cgo.ReleaseKeylogSlot(s)
	}
	return len(taken)
}

// settledFreeKeylogSlots collects garbage until the free slot count is
// stable (configs or streams dropped by earlier tests give slots back from
// their cleanups), and returns it.
func settledFreeKeylogSlots() int {
	prev := -1
	for i := 0; i < 20; i++ {
		runtime.GC()
		time.Sleep(2 * time.Millisecond)
		n := freeKeylogSlots()
		if n == prev {
			return n
		}
		prev = n
	}
	return prev
}

// slotHeld reports whether a config still holds its key-log slot.
func slotHeld(l *configLife) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.slot >= 0
}

// TestKeyLogSlots: a config holds its slot until it is closed and the last
// stream made from it is gone; running out of slots is a clear error.
func TestKeyLogSlots(t *testing.T) {
	rec := &lineRecorder{}
	scfg := serverConfig(t, func(o *ServerOptions) { o.KeyLogWriter = rec })
	ccfg := clientConfig(t, nil)
	require.True(t, slotHeld(scfg.life))
	assert.False(t, slotHeld(ccfg.life), "no KeyLogWriter, no slot")
	c, s := mustPair(t, scfg, ccfg)
	require.NoError(t, scfg.Close())
	assert.True(t, slotHeld(scfg.life), "a stream from the closed config still holds the slot")
	pingPong(t, c, s)
	assert.Equal(t, 1, labels(rec.lines())["CLIENT_TRAFFIC_SECRET_0"])
	require.NoError(t, s.Close())
	assert.False(t, slotHeld(scfg.life), "released with the last stream")

	t.Run("exhaustion", func(t *testing.T) {
		_, srv, _ := pki(t)
		key := srv.certifiedKey(t)
		var cfgs []*ServerConfig
		defer func() {
			for _, c := range cfgs {
				c.Close()
			}
		}()
		var err error
		for i := 0; i <= cgo.KeylogSlots; i++ {
			var c *ServerConfig
			c, err = NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{key}, KeyLogWriter: rec})
			if err != nil {
				break
			}
			cfgs = append(cfgs, c)
		}
		require.Error(t, err, "the slots run out")
		assert.LessOrEqual(t, len(cfgs), cgo.KeylogSlots)
		assert.ErrorIs(t, err, ErrInvalidInput)
		assert.Contains(t, err.Error(), "too many live configs with a KeyLogWriter")
		_, err = NewClientConfig(ClientOptions{RootCAs: sharedCAPEM(t), KeyLogWriter: rec})
		assert.ErrorIs(t, err, ErrInvalidInput)
		// Configs without a writer are not limited.
		other, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{key}})
		require.NoError(t, err)
		other.Close()
		cfgs[0].Close()
		again, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{key}, KeyLogWriter: rec})
		require.NoError(t, err, "a closed config's slot is reused")
		cfgs[0] = again
	})
}
