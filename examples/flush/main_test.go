package main

import (
	"testing"

	"github.com/gorustls/gorustls/examples/internal/exampletest"
	"github.com/stretchr/testify/assert"
)

func TestFlush(t *testing.T) {
	out := exampletest.Run(t, run)
	assert.Contains(t, out, "buffered + Flush: 100 writes -> 1 TCP write(s)")
	assert.Contains(t, out, "WriteThrough    : 100 writes -> 100 TCP write(s)")
}
