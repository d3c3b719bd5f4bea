package rustls

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withUmask runs the test under the usual 022 umask (so that a file
// created with default permissions would be world-readable).
func withUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

func TestKeyLogFromEnvFileIsPrivate(t *testing.T) {
	withUmask(t, 0o022)
	mode := func(path string) fs.FileMode {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		return fi.Mode().Perm()
	}

	t.Run("created 0600", func(t *testing.T) {
		for _, side := range []string{"server", "client"} {
			path := filepath.Join(t.TempDir(), side+"-keys.log")
			t.Setenv("SSLKEYLOGFILE", path)
			if side == "server" {
				serverConfig(t, func(o *ServerOptions) { o.KeyLogFromEnv = true })
			} else {
				clientConfig(t, func(o *ClientOptions) { o.KeyLogFromEnv = true })
			}
			assert.Equal(t, fs.FileMode(0o600), mode(path), side)
		}
		// The secrets still reach it.
		path := filepath.Join(t.TempDir(), "keys.log")
		t.Setenv("SSLKEYLOGFILE", path)
		mustPair(t, serverConfig(t, func(o *ServerOptions) { o.KeyLogFromEnv = true }), clientConfig(t, nil))
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Contains(t, string(b), "CLIENT_TRAFFIC_SECRET_0 ")
		assert.Equal(t, fs.FileMode(0o600), mode(path))
	})

	t.Run("existing file tightened", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "shared.log")
		require.NoError(t, os.WriteFile(path, []byte("# earlier lines\n"), 0o644))
		require.NoError(t, os.Chmod(path, 0o664))
		t.Setenv("SSLKEYLOGFILE", path)
		clientConfig(t, func(o *ClientOptions) { o.KeyLogFromEnv = true })
		assert.Equal(t, fs.FileMode(0o600), mode(path))
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, "# earlier lines\n", string(b), "appended to, never truncated")
	})

	t.Run("ignored with KeyLogWriter or no variable", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "unused.log")
		t.Setenv("SSLKEYLOGFILE", path)
		clientConfig(t, func(o *ClientOptions) { o.KeyLogFromEnv = true; o.KeyLogWriter = &lineRecorder{} })
		_, err := os.Stat(path)
		assert.ErrorIs(t, err, fs.ErrNotExist)
		t.Setenv("SSLKEYLOGFILE", "")
		clientConfig(t, func(o *ClientOptions) { o.KeyLogFromEnv = true })
	})

	t.Run("unusable path is an error", func(t *testing.T) {
		t.Setenv("SSLKEYLOGFILE", filepath.Join(t.TempDir(), "no", "such", "dir", "keys.log"))
		ca, _, _ := pki(t)
		_, err := NewClientConfig(ClientOptions{RootCAs: ca.certPEM, KeyLogFromEnv: true})
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrIO)
		assert.ErrorIs(t, err, fs.ErrNotExist)
		assert.Contains(t, err.Error(), "SSLKEYLOGFILE")
	})
}
