package rustls

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestOpenKeyLogFile(t *testing.T) {
	dir := t.TempDir()
	mode := func(name string) os.FileMode {
		fi, err := os.Lstat(name)
		require.NoError(t, err)
		return fi.Mode().Perm()
	}

	fresh := filepath.Join(dir, "new.log")
	f, err := OpenKeyLogFile(fresh)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	assert.Equal(t, os.FileMode(0o600), mode(fresh), "created owner-only whatever the umask")

	open := filepath.Join(dir, "open.log")
	require.NoError(t, os.WriteFile(open, []byte("old line\n"), 0o644))
	require.NoError(t, os.Chmod(open, 0o644))
	f, err = OpenKeyLogFile(open)
	require.NoError(t, err)
	_, err = f.WriteString("new line\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	assert.Equal(t, os.FileMode(0o600), mode(open), "an existing readable file is tightened")
	b, err := os.ReadFile(open)
	require.NoError(t, err)
	assert.Equal(t, "old line\nnew line\n", string(b), "appended, not truncated")

	link := filepath.Join(dir, "link.log")
	require.NoError(t, os.Symlink(fresh, link))
	_, err = OpenKeyLogFile(link)
	e := requireCode(t, err, CodeIO)
	assert.Contains(t, e.Detail, link, "a planted link is refused")

	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, unix.Mkfifo(fifo, 0o644))
	require.NoError(t, os.Chmod(fifo, 0o666))
	_, err = OpenKeyLogFile(fifo) // a FIFO others may use is refused (and one with no reader never blocks)
	requireCode(t, err, CodeIO)
}
