package main

import (
	"testing"

	"github.com/gorustls/gorustls/examples/internal/exampletest"
	"github.com/stretchr/testify/assert"
)

func TestRotation(t *testing.T) {
	out := exampletest.Run(t, run)
	assert.Equal(t, "before the rotation: hello, workload-1 (HTTP/2.0, connection 1)\n"+
		"in flight during the rotation: hello, workload-1 (HTTP/2.0, connection 1)\n"+
		"pooled connection: hello, workload-1 (HTTP/2.0, connection 1)\n"+
		"new connection: hello, workload-2 (HTTP/2.0, connection 2)\n", out)
}
