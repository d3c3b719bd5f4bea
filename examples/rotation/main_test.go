package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRotation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	assert.Equal(t, "before the rotation: hello, workload-1 (HTTP/2.0, connection 1)\n"+
		"in flight during the rotation: hello, workload-1 (HTTP/2.0, connection 1)\n"+
		"pooled connection: hello, workload-1 (HTTP/2.0, connection 1)\n"+
		"new connection: hello, workload-2 (HTTP/2.0, connection 2)\n", out.String())
}
