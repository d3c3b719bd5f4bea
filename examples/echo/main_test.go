package main

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/gorustls/gorustls/examples/internal/exampletest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEcho(t *testing.T) {
	out := exampletest.Run(t, func(ctx context.Context, w io.Writer) error { return run(ctx, "127.0.0.1:0", false, w) })
	assert.Contains(t, out, "echoed: hello\necho")
	assert.Contains(t, out, "echoed: gorustls\n")
	assert.Contains(t, out, "closed cleanly")
}

func TestEchoServeOnlyStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.NoError(t, run(ctx, "127.0.0.1:0", true, &bytes.Buffer{}))
}
