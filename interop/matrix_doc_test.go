package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteMatrixKeepsHandWrittenPart: regenerating docs/interop.md keeps
// what follows keptMarker (measurements made outside the suite).
func TestWriteMatrixKeepsHandWrittenPart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "interop.md")
	tail := keptMarker + "\n## Measured elsewhere\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
	require.NoError(t, os.WriteFile(path, []byte("# old matrix\n\n| stale | row |\n\n"+tail), 0o644))
	require.NoError(t, writeMatrix(path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(b)
	assert.True(t, strings.HasPrefix(s, "# Interoperability matrix\n"))
	assert.NotContains(t, s, "stale")
	assert.True(t, strings.HasSuffix(s, "|\n\n"+tail), "the hand-written part follows the table after one blank line")
	assert.Equal(t, 1, strings.Count(s, keptMarker))

	// A file without the marker gets none.
	require.NoError(t, os.WriteFile(path, []byte("# old\n"), 0o644))
	require.NoError(t, writeMatrix(path))
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.NotContains(t, string(b), keptMarker)
}
