package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEcho(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, "127.0.0.1:0", false, &out))
	assert.Contains(t, out.String(), "echoed: hello\necho")
	assert.Contains(t, out.String(), "echoed: gorustls\n")
	assert.Contains(t, out.String(), "closed cleanly")
}

func TestEchoServeOnlyStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.NoError(t, run(ctx, "127.0.0.1:0", true, &bytes.Buffer{}))
}
