package main

import (
	"testing"

	"github.com/gorustls/gorustls/examples/internal/exampletest"
	"github.com/stretchr/testify/assert"
)

func TestGRPC(t *testing.T) {
	out := exampletest.Run(t, run)
	assert.Contains(t, out, "server: /grpc.health.v1.Health/Check called by alice over h2\n")
	assert.Contains(t, out, "alice: health SERVING\n")
	assert.Contains(t, out, "mallory: mallory may not call this\n")
}
