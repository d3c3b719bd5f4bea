package main

import (
	"testing"

	"github.com/gorustls/gorustls/examples/internal/exampletest"
	"github.com/stretchr/testify/assert"
)

func TestSNI(t *testing.T) {
	s := exampletest.Run(t, run)
	assert.Contains(t, s, `api.example      certificate for [api.example], ALPN h2: "this is api.example"`)
	assert.Contains(t, s, `www.example      certificate for [www.example], ALPN http/1.1: "this is www.example"`)
	assert.Contains(t, s, "unknown.example  refused: rustls: handshake: received fatal alert: UnrecognisedName")
}
