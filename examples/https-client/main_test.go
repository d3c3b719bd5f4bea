package main

import (
	"context"
	"io"
	"testing"

	"github.com/gorustls/gorustls/examples/internal/exampletest"
	"github.com/stretchr/testify/assert"
)

func TestHTTPSClient(t *testing.T) {
	out := exampletest.Run(t, func(ctx context.Context, w io.Writer) error { return run(ctx, "", w) })
	assert.Contains(t, out, "request 3: HTTP/2.0 200 OK, TLS 0x0304, 29 bytes")
	assert.Contains(t, out, "3 requests over 1 connection(s)")
}
