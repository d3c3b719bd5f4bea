package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHTTPSClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, "", &out))
	assert.Contains(t, out.String(), "request 3: HTTP/2.0 200 OK, TLS 0x0304, 29 bytes")
	assert.Contains(t, out.String(), "3 requests over 1 connection(s)")
}
