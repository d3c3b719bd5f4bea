package interop

import (
	"path/filepath"
	"testing"
)

// sslOpts are the options of an openssl s_client or s_server run.
type sslOpts struct {
	version string // "1.2", "1.3" or "" (both)
	suites  string // TLS 1.3 suites (-ciphersuites)
	ciphers string // TLS 1.2 suites (-cipher)
	alpn    string // comma-separated
	cert    *leaf  // certificate to present
	caFile  string // CA to verify the peer with (the suite's CA when empty)
	extra   []string
}

func (o sslOpts) args() []string {
	var a []string
	switch o.version {
	case "1.2":
		a = append(a, "-tls1_2")
	case "1.3":
		a = append(a, "-tls1_3")
	}
	if o.suites != "" {
		a = append(a, "-ciphersuites", o.suites)
	}
	if o.ciphers != "" {
		a = append(a, "-cipher", o.ciphers)
	}
	if o.alpn != "" {
		a = append(a, "-alpn", o.alpn)
	}
	if o.cert != nil {
		a = append(a, "-cert", o.cert.certFile, "-key", o.cert.keyFile)
	}
	ca := o.caFile
	if ca == "" {
		ca = pk.ca.file
	}
	a = append(a, "-CAfile", ca)
	return append(a, o.extra...)
}

// sClient starts openssl s_client against a gorustls server on port,
// verifying it as localhost (or -servername/-verify_hostname in extra).
func sClient(t testing.TB, port int, o sslOpts, stdin bool) *peer {
	t.Helper()
	args := []string{"openssl", "s_client", "-connect", "127.0.0.1:" + itoa(port), "-verify_return_error"}
	if !hasArg(o.extra, "-servername") && !hasArg(o.extra, "-noservername") {
		args = append(args, "-servername", "localhost", "-verify_hostname", "localhost")
	}
	return startPeer(t, peerSpec{args: append(args, o.args()...), stdin: stdin, dir: pk.dir})
}

func hasArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

// sServer starts openssl s_server serving cert (mode: "-rev", "-WWW", or ""
// for the stdin/stdout mode) and returns it with its address.
func sServer(t testing.TB, cert *leaf, mode string, o sslOpts, stdin bool) (*peer, string) {
	t.Helper()
	if o.cert == nil {
		o.cert = cert
	}
	return startServerPeer(t, "ACCEPT", func(port int) peerSpec {
		args := []string{"openssl", "s_server", "-accept", "127.0.0.1:" + itoa(port)}
		if mode != "" {
			args = append(args, mode)
		}
		return peerSpec{args: append(args, o.args()...), stdin: stdin, dir: filepath.Join(pk.dir)}
	})
}
