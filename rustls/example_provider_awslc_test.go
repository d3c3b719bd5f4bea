//go:build !gorustls_ring

package rustls_test

import (
	"fmt"
	"log"

	"github.com/gorustls/gorustls/rustls"
)

// These Examples print what the default build (aws-lc-rs, the bundled
// librustls) has; a build with the gorustls_ring tag skips them.

// Name the crypto provider the build selected.
func ExampleBuildProvider() {
	fmt.Println(rustls.BuildProvider())
	// Output: aws-lc-rs
}

// Use ring's AES-GCM where the linked librustls carries it, the default
// provider otherwise. The suites and their order are the same either way.
func ExampleRingAESGCMAvailable() {
	var p *rustls.Provider
	var err error
	if rustls.RingAESGCMAvailable() {
		p, err = rustls.RingAESGCMProvider()
	} else {
		p, err = rustls.DefaultProvider()
	}
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close() // configs built from p keep their own reference
	fmt.Println("ring's AES-GCM:", rustls.RingAESGCMAvailable())
	fmt.Println("first suite:", p.CipherSuites()[0].Name)
	// Output:
	// ring's AES-GCM: true
	// first suite: TLS13_AES_256_GCM_SHA384
}

// Serve with ring's AES-GCM in place of aws-lc-rs's (docs/performance.md
// says when that pays off: not on CPUs with AVX-512); key exchange and
// signatures stay aws-lc-rs's. It needs the bundled librustls (both
// providers).
func ExampleRingAESGCMProvider() {
	_, chainPEM, keyPEM := exampleCertificates()
	key, err := rustls.NewCertifiedKey(chainPEM, keyPEM)
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()

	p, err := rustls.RingAESGCMProvider()
	if err != nil {
		log.Fatal(err) // a librustls built with one provider says so here
	}
	defer p.Close() // the config keeps its own reference
	cfg, err := rustls.NewServerConfig(rustls.ServerOptions{
		Certificates: []*rustls.CertifiedKey{key},
		Provider:     p,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cfg.Close()
	fmt.Println(len(p.CipherSuites()) > 0)
	// Output: true
}
