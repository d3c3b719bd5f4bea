//go:build !gorustls_ring

package cgo

// #cgo CFLAGS: -DDEFINE_AWS_LC_RS
import "C"

// ProviderName is the crypto provider this build of gorustls expects librustls
// to have been built with (build tag gorustls_ring selects "ring").
const ProviderName = "aws-lc-rs"
