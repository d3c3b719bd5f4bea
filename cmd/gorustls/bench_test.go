package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBenchRegistered(t *testing.T) {
	c, ok := commands["bench"]
	require.True(t, ok)
	assert.NotEmpty(t, c.summary)
}

func TestBenchFlagErrors(t *testing.T) {
	err := runBench([]string{"-plot", "chart.gif"})
	require.ErrorContains(t, err, ".png or .svg")
	err = runBench([]string{"extra"})
	require.ErrorContains(t, err, "unexpected arguments")
	err = runBench([]string{"-no-such-flag"})
	require.Error(t, err)
}

func TestBenchStacks(t *testing.T) {
	for _, prov := range []string{"default", "ring-aes-gcm"} {
		s, err := benchStacks(prov)
		require.NoError(t, err)
		require.Len(t, s, 2)
		assert.Equal(t, "gorustls", s[0].Name)
		assert.Equal(t, "crypto/tls", s[1].Name)
		assert.NotNil(t, s[0].Calls, "gorustls counts its C calls")
	}
	_, err := benchStacks("openssl")
	require.ErrorContains(t, err, "ring-aes-gcm")
	require.ErrorContains(t, runBench([]string{"-provider", "nope"}), "want default or ring-aes-gcm")
	require.ErrorContains(t, runBench([]string{"-only", "bulk,nope"}), `unknown workload group "nope"`)
}

func TestWriteFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "out.md")
	require.NoError(t, writeFile(name, func(w io.Writer) error {
		_, err := io.WriteString(w, "table")
		return err
	}))
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(b, []byte("table")))
	boom := errors.New("boom")
	require.ErrorIs(t, writeFile(name, func(io.Writer) error { return boom }), boom)
	require.Error(t, writeFile(filepath.Join(t.TempDir(), "missing", "x.md"), func(io.Writer) error { return nil }))
}
