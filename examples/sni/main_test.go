package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSNI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	s := out.String()
	assert.Contains(t, s, `api.example      certificate for [api.example], ALPN h2: "this is api.example"`)
	assert.Contains(t, s, `www.example      certificate for [www.example], ALPN http/1.1: "this is www.example"`)
	assert.Contains(t, s, "unknown.example  refused: rustls: handshake: received fatal alert: UnrecognisedName")
}
