// Package interop holds gorustls's interoperability, fault and bad-input
// tests against real TLS peers (openssl, gnutls, curl and crypto/tls), all
// started by the tests on loopback. It has no non-test code beyond this
// comment; the matrix the tests produce is written to docs/interop.md.
package interop
