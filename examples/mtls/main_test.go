package main

import (
	"testing"

	"github.com/gorustls/gorustls/examples/internal/exampletest"
	"github.com/stretchr/testify/assert"
)

func TestMTLS(t *testing.T) {
	out := exampletest.Run(t, run)
	assert.Contains(t, out, "client with a certificate: welcome, alice\n")
	assert.Contains(t, out, "client without a certificate: rustls: read: received fatal alert")
	assert.Contains(t, out, "server refused it: rustls: handshake")
}
