//go:build gorustls_ring

package main

// The binary under test is built for the same provider as the tests.
func init() { buildTags = []string{"-tags", "gorustls_ring"} }
