package interop

import (
	"testing"
)

// gnutls priority strings.
const (
	prioTLS12    = "NORMAL:-VERS-ALL:+VERS-TLS1.2"
	prioTLS13    = "NORMAL:-VERS-ALL:+VERS-TLS1.3"
	prioChaCha13 = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305"
	prioChaCha12 = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+CHACHA20-POLY1305"
	prioAES12813 = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM"
)

// gnutlsCli starts gnutls-cli against port, verifying the server as name
// (localhost when empty).
func gnutlsCli(t testing.TB, port int, name, prio string, extra ...string) *peer {
	t.Helper()
	if name == "" {
		name = "localhost"
	}
	args := []string{"gnutls-cli", "-p", itoa(port), "127.0.0.1", "--sni-hostname", name, "--verify-hostname", name,
		"--x509cafile", pk.ca.file}
	if prio != "" {
		args = append(args, "--priority", prio)
	}
	return startPeer(t, peerSpec{args: append(args, extra...), stdin: true, dir: pk.dir})
}

// gnutlsServ starts gnutls-serv --echo with cert.
func gnutlsServ(t testing.TB, cert *leaf, prio string, extra ...string) (*peer, string) {
	t.Helper()
	return startServerPeer(t, "...done", func(port int) peerSpec {
		args := []string{"gnutls-serv", "--echo", "-p", itoa(port), "--x509certfile", cert.certFile, "--x509keyfile", cert.keyFile}
		if prio != "" {
			args = append(args, "--priority", prio)
		}
		return peerSpec{args: append(args, extra...), dir: pk.dir}
	})
}

func certArgs(l *leaf) []string {
	return []string{"--x509certfile", l.certFile, "--x509keyfile", l.keyFile}
}
