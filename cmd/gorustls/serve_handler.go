package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorustls/gorustls/rustls"
)

// maxServeBytes is the largest N that `serve -mode http` answers at
// /bytes/N.
const maxServeBytes = 1 << 32

// bytesChunk is the 32 KiB pattern /bytes/N repeats. It is built once and
// only ever read, so every request shares it.
var bytesChunk = []byte(strings.Repeat("gorustls", 4096))

// Header values shared by every response; net/http only reads them.
var (
	octetStream = []string{"application/octet-stream"}
	textPlain   = []string{"text/plain; charset=utf-8"}
)

// implicitLengthMax is the largest body whose Content-Length net/http works
// out by itself when the handler writes it all and returns (HTTP/1.1 buffers
// up to 2 KiB before it switches to chunked encoding; HTTP/2 buffers more).
// Smaller bodies leave the header to net/http, which saves formatting it.
const implicitLengthMax = 2048

// serveHandler is the handler of `serve -mode http`: a page describing the
// connection at /, N bytes at /bytes/N, 404 elsewhere. /bytes/N does no
// allocation and no C call of its own for N <= implicitLengthMax (larger
// bodies format one Content-Length header); only net/http's own work
// remains per request.
type serveHandler struct {
	// libVersion is rustls.Version(), asked once (a C call) rather than on
	// every request for /.
	libVersion string
}

func newServeHandler() *serveHandler {
	return &serveHandler{libVersion: rustls.Version()}
}

// ServeHTTP implements http.Handler.
func (h *serveHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if arg, ok := strings.CutPrefix(r.URL.Path, "/bytes/"); ok {
		serveBytes(w, r, arg)
		return
	}
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	h.serveIndex(w, r)
}

// serveBytes answers N bytes of the "gorustls" pattern, N given in decimal
// by arg.
func serveBytes(w http.ResponseWriter, r *http.Request, arg string) {
	n, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || n < 0 || n > maxServeBytes {
		http.Error(w, "want /bytes/N with 0 <= N <= 4294967296", http.StatusBadRequest)
		return
	}
	hdr := w.Header()
	hdr["Content-Type"] = octetStream
	if n > implicitLengthMax || r.Method == http.MethodHead {
		hdr["Content-Length"] = []string{strconv.FormatInt(n, 10)}
	}
	if r.Method == http.MethodHead {
		return
	}
	for n > 0 {
		m := min(n, int64(len(bytesChunk)))
		if _, err := w.Write(bytesChunk[:m]); err != nil {
			return
		}
		n -= m
	}
}

// serveIndex describes the request's connection in plain text.
func (h *serveHandler) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header()["Content-Type"] = textPlain
	fmt.Fprintf(w, "hello from gorustls (%s)\n\n", h.libVersion)
	fmt.Fprintf(w, "protocol:     %s\n", r.Proto)
	fmt.Fprintf(w, "TLS version:  %s\n", versionName(r.TLS.Version))
	fmt.Fprintf(w, "cipher suite: 0x%04x\n", r.TLS.CipherSuite)
	fmt.Fprintf(w, "ALPN:         %s\n", orNone(r.TLS.NegotiatedProtocol))
	fmt.Fprintf(w, "SNI:          %s\n", orNone(r.TLS.ServerName))
	fmt.Fprintf(w, "client cert:  %v\n", len(r.TLS.PeerCertificates) > 0)
	fmt.Fprintf(w, "\ntry /bytes/N for N bytes\n")
}
