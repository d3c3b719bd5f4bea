package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGRPC(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	assert.Contains(t, out.String(), "server: /grpc.health.v1.Health/Check called by alice over h2\n")
	assert.Contains(t, out.String(), "alice: health SERVING\n")
	assert.Contains(t, out.String(), "mallory: mallory may not call this\n")
}
