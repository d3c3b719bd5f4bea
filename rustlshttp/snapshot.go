package rustlshttp

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"time"

	"github.com/gorustls/gorustls/rustls"
)

// snapshot holds the Server's fields as setup found them. Connections read
// only the snapshot, so that a field changed after the first Serve is
// neither seen nor a data race, as the Server's doc says.
type snapshot struct {
	handler     http.Handler                                            // Handler, else http.DefaultServeMux
	acceptor    *rustls.Acceptor                                        // Config's (nil with Lazy)
	choose      func(*rustls.ClientHello) (*rustls.ServerConfig, error) // Lazy.Choose (nil with Config)
	opts        rustls.StreamOptions                                    // Options, WriteThrough on, HandshakeTimeout resolved
	preface     time.Duration                                           // bound on reading the HTTP/2 client preface
	onHandshake func(*rustls.Stream)
	nextProto   map[string]func(*rustls.Stream) // a copy of NextProto
	logger      *slog.Logger                    // Logger behind a safeHandler; nil: slog.Default()
	baseContext func(net.Listener) context.Context
}

// takeSnapshot fills s.snap (but logger, which setup fills first) from
// the fields, once s.hs is built.
func (s *Server) takeSnapshot() {
	sn := &s.snap
	sn.handler = s.Handler
	if sn.handler == nil {
		sn.handler = http.DefaultServeMux
	}
	sn.opts = s.Options
	sn.opts.WriteThrough = true
	sn.opts.HandshakeTimeout = handshakeTimeout(s.Options.HandshakeTimeout, s.hs)
	sn.preface = prefaceTimeout(sn.opts.HandshakeTimeout, s.hs)
	if s.Lazy != nil {
		sn.choose = s.Lazy.Choose
	} else {
		sn.acceptor = rustls.NewAcceptor(s.Config, sn.opts)
	}
	sn.onHandshake = s.OnHandshake
	sn.nextProto = maps.Clone(s.NextProto)
	if s.HTTP1 != nil {
		sn.baseContext = s.HTTP1.BaseContext
	}
}

// handshakeTimeout is opt (Options.HandshakeTimeout) when positive, else
// what net/http uses for TLS handshakes (the smallest non-zero of hs's
// read-header, read and write timeouts), else
// rustls.DefaultHandshakeTimeout.
func handshakeTimeout(opt time.Duration, hs *http.Server) time.Duration {
	if opt > 0 {
		return opt
	}
	var d time.Duration
	for _, v := range []time.Duration{hs.ReadHeaderTimeout, hs.ReadTimeout, hs.WriteTimeout} {
		if v > 0 && (d == 0 || v < d) {
			d = v
		}
	}
	if d == 0 {
		d = rustls.DefaultHandshakeTimeout
	}
	return d
}

// prefaceTimeout bounds the wait for the HTTP/2 client preface after the
// handshake: the handshake timeout, or hs's read-header timeout (its read
// timeout when that is zero, as net/http does) when that is shorter.
func prefaceTimeout(handshake time.Duration, hs *http.Server) time.Duration {
	header := hs.ReadHeaderTimeout
	if header <= 0 {
		header = hs.ReadTimeout
	}
	if header > 0 && header < handshake {
		return header
	}
	return handshake
}
