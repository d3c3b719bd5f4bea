package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	assert.Contains(t, out.String(), "client with a certificate: welcome, alice\n")
	assert.Contains(t, out.String(), "client without a certificate: rustls: read: received fatal alert")
	assert.Contains(t, out.String(), "server refused it: rustls: handshake")
}
