//go:build gorustls_ring

package cgo

// #cgo CFLAGS: -DDEFINE_RING
import "C"

// ProviderName is the crypto provider this build of gorustls expects librustls
// to have been built with.
const ProviderName = "ring"
