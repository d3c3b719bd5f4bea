package main

import (
	"fmt"

	"github.com/gorustls/gorustls/rustls"
)

func init() {
	register("version", "print librustls's version and the provider's cipher suites", func(args []string) error {
		fmt.Println(rustls.Version())
		compression := "off"
		if rustls.CertificateCompression() {
			compression = "brotli, zlib"
		}
		fmt.Printf("certificate compression (RFC 8879): %s\n", compression)
		suites, err := rustls.CipherSuites()
		if err != nil {
			return err
		}
		for _, s := range suites {
			fmt.Printf("  0x%04x %-45s %s\n", s.ID, s.Name, map[uint16]string{rustls.VersionTLS12: "TLS 1.2", rustls.VersionTLS13: "TLS 1.3"}[s.Version])
		}
		return nil
	})
}
