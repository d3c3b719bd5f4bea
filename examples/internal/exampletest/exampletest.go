// Package exampletest runs an example's run function in its test.
package exampletest

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Run calls run with a context bounded to 20 seconds (so that a hang shows
// as a failure) and returns what it wrote; it fails t if run fails.
func Run(t *testing.T, run func(ctx context.Context, out io.Writer) error) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	return out.String()
}
