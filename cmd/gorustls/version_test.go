package main

import (
	"testing"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersionShowsCompression(t *testing.T) {
	r := runCLI(t, "", "version")
	require.Equal(t, 0, r.code, r.stderr)
	want := "certificate compression (RFC 8879): off"
	if rustls.CertificateCompression() {
		want = "certificate compression (RFC 8879): brotli, zlib"
	}
	assert.Contains(t, r.stdout, want)
}
