//go:build asan

package rustls

// asanEnabled reports a go test -asan build (make asan). ASan's quarantine
// and redzones hold freed memory, so resident-memory checks do not apply.
const asanEnabled = true
