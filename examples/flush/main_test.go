package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlush(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	assert.Contains(t, out.String(), "buffered + Flush: 100 writes -> 1 TCP write(s)")
	assert.Contains(t, out.String(), "WriteThrough    : 100 writes -> 100 TCP write(s)")
}
