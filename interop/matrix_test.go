package interop

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// pk is the suite's PKI, made once in TestMain.
var pk *pkiSet

// cellResult is one row of docs/interop.md.
type cellResult struct {
	peer, role, name, result string
}

var matrix struct {
	mu    sync.Mutex
	cells []cellResult
}

// cell runs one matrix case as a parallel subtest and records its result.
// role is "server" when gorustls is the server, "client" when it is the
// client.
func cell(t *testing.T, peer, role, name string, fn func(t *testing.T)) {
	t.Helper()
	t.Run(peer+"/"+role+"/"+name, func(t *testing.T) {
		t.Parallel()
		defer func() {
			res := "pass"
			if t.Failed() {
				res = "FAIL"
			}
			matrix.mu.Lock()
			matrix.cells = append(matrix.cells, cellResult{peer, role, name, res})
			matrix.mu.Unlock()
		}()
		fn(t)
	})
}

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "gorustls-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pk, err = newPKI(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop PKI:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	if fullRun() {
		if err := writeMatrix(filepath.Join("..", "docs", "interop.md")); err != nil {
			fmt.Fprintln(os.Stderr, "writing docs/interop.md:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// fullRun reports whether every matrix test ran: no -run/-skip filter and
// not a -short run. GORUSTLS_INTEROP_DOC=0 turns the writing off.
func fullRun() bool {
	if os.Getenv("GORUSTLS_INTEROP_DOC") == "0" || testing.Short() {
		return false
	}
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return true
}

func writeMatrix(path string) error {
	matrix.mu.Lock()
	cells := append([]cellResult(nil), matrix.cells...)
	matrix.mu.Unlock()
	sort.Slice(cells, func(i, j int) bool {
		a, b := cells[i], cells[j]
		if a.peer != b.peer {
			return a.peer < b.peer
		}
		if a.role != b.role {
			return a.role < b.role
		}
		return a.name < b.name
	})
	fails := 0
	for _, c := range cells {
		if c.result != "pass" {
			fails++
		}
	}
	var b strings.Builder
	b.WriteString("# Interoperability matrix\n\n")
	b.WriteString("Written by `go test ./interop` (a full run, without `-run`) from the results of the\n")
	b.WriteString("tests in interop/. Every peer runs on loopback, started by the tests. Role is\n")
	b.WriteString("gorustls's role: `server` means the peer is the client. Certificates are made\n")
	b.WriteString("in memory per run. Peers: OpenSSL 3.0 (s_client, s_server), GnuTLS 3.7\n")
	b.WriteString("(gnutls-cli, gnutls-serv), curl 7.88 (OpenSSL backend, nghttp2), Go crypto/tls,\n")
	b.WriteString("and plain TCP peers for the bad-input cases.\n\n")
	fmt.Fprintf(&b, "%d cases, %d failed.\n\n", len(cells), fails)
	b.WriteString(matrixNotes)
	b.WriteString("| peer | role | case | result |\n|---|---|---|---|\n")
	for _, c := range cells {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.peer, c.role, c.name, c.result)
	}
	b.WriteString(keptTail(path))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// keptMarker starts the hand-written part of docs/interop.md, after the
// matrix (measurements made outside this suite), which writeMatrix keeps.
const keptMarker = "<!-- Written by hand from here on: go test ./interop keeps it. -->"

// keptTail returns the hand-written part of the file at path, from
// keptMarker on, after a blank line; nothing when there is none.
func keptTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	i := strings.Index(string(b), keptMarker)
	if i < 0 {
		return ""
	}
	return "\n" + string(b[i:])
}

// matrixNotes explains the cells whose outcome is not plain success.
const matrixNotes = `Notes:

- Negative cases pass when gorustls fails with the expected *rustls.Error
  code (certificate codes 71xx for its own checks, received alerts 72xx when
  the peer refused), never hanging: every handshake has a 10 s bound, every
  peer process 20 s.
- A TLS 1.3 suite mismatch on a gorustls server surfaces as rustls's general
  error "no server certificate chain resolved" (code 7112, alert
  access_denied): rustls chooses the certificate from the signature schemes
  usable with the suites in common before it reports that there are none.
- crypto/tls resumes TLS 1.2 sessions only with tickets, and rustls-ffi 0.15
  gives servers no ticketer (session IDs only), so a crypto/tls client never
  resumes TLS 1.2 with a gorustls server; openssl and gnutls do (session IDs).
- rustls refuses renegotiation (no_renegotiation warning); openssl then ends
  the connection with a handshake_failure alert, which gorustls reports.

`
