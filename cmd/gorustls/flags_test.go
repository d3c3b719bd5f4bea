package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// -ca and -client-ca may be repeated: every file counts (the flag package
// alone would keep the last one and drop the others silently).
func TestRepeatedCAFlags(t *testing.T) {
	ca, err := newMemCA("repeat CA")
	require.NoError(t, err)
	other, err := newMemCA("other CA")
	require.NoError(t, err)
	leaf, err := ca.leaf(false, "localhost", "127.0.0.1")
	require.NoError(t, err)
	cl, err := ca.leaf(true, "repeat client")
	require.NoError(t, err)
	caFile, otherFile := writeTestFile(t, "ca.pem", ca.pem), writeTestFile(t, "other.pem", other.pem)
	srv := startServe(t, "-cert", writeTestFile(t, "s.pem", leaf.certPEM), "-key", writeTestFile(t, "s.key", leaf.keyPEM),
		"-client-ca", caFile, "-client-ca", otherFile)
	r := runCLI(t, "both\n", "connect", "-ca", caFile, "-ca", otherFile, "-servername", "localhost",
		"-cert", writeTestFile(t, "c.pem", cl.certPEM), "-key", writeTestFile(t, "c.key", cl.keyPEM), srv.addr)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "both\n", r.stdout)
	assert.Equal(t, 0, srv.stop(t))
}
