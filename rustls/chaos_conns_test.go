package rustls

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"time"
)

// Short-lived connections for the chaos scenarios that churn handshakes
// (key rotation, configs closed under use, panicking callbacks): one
// handshake on a fresh loopback pair, one message each way, Close.

// chaosHS is the outcome of one handshake attempt. Exactly one client kind
// is set: a gorustls Stream (cs) or a crypto/tls Conn (cg).
type chaosHS struct {
	cs   *Stream
	cg   *tls.Conn
	cerr error
	ss   *Stream
	serr error
	raw  [2]net.Conn // client, server transports
}

// chaosHSBound bounds one handshake attempt (both sides); past it the
// attempt is reported as a deadlock.
const chaosHSBound = 30 * time.Second

// handshake runs acc's server handshake and a client handshake, gorustls
// (con) or crypto/tls (gcfg), for name. ok is false when the attempt
// wedged (already reported). The server side's errors are checked for
// type, and the client's when it is gorustls.
func (r *chaosRun) handshake(what string, pairer *tcpPairer, acc *Acceptor, con *Connector, gcfg *tls.Config, name string) (chaosHS, bool) {
	cc, sc, err := pairer.pair()
	if err != nil {
		r.failf("%s: %v", what, err)
		return chaosHS{}, false
	}
	// The goroutines fill h; it is read only once both are done.
	h := &chaosHS{raw: [2]net.Conn{cc, sc}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv, cli := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(srv)
		h.serr = r.call(what+": server handshake", func() error {
			var err error
			h.ss, err = acc.Accept(ctx, sc)
			return err
		})
	}()
	go func() {
		defer close(cli)
		if con != nil {
			h.cerr = r.call(what+": client handshake", func() error {
				var err error
				h.cs, err = con.Connect(ctx, cc, name)
				return err
			})
			return
		}
		cfg := gcfg.Clone()
		cfg.ServerName = name
		g := tls.Client(cc, cfg)
		if h.cerr = g.HandshakeContext(ctx); h.cerr == nil {
			h.cg = g
		} else {
			_ = cc.Close()
		}
	}()
	for _, ch := range []chan struct{}{cli, srv} {
		select {
		case <-ch:
		case <-time.After(chaosHSBound):
			r.wedge(what+": handshake", chaosHSBound)
			return chaosHS{}, false
		}
	}
	if h.cerr != nil && h.ss != nil {
		// The client gave up after the server finished (TLS 1.3: a refused
		// server certificate); the server's Stream is still ours.
		h.ss.Close()
		h.ss = nil
	}
	if h.serr != nil && h.cs != nil {
		h.cs.Close()
		h.cs = nil
	}
	if h.serr != nil && h.cg != nil {
		h.cg.Close()
		h.cg = nil
	}
	return *h, true
}

func (h *chaosHS) client() net.Conn {
	if h.cs != nil {
		return h.cs
	}
	if h.cg != nil {
		return h.cg
	}
	return nil
}

// exchange sends one message each way over a completed pair.
func (r *chaosRun) exchange(what string, h *chaosHS) error {
	c, s := h.client(), h.ss
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	_ = s.SetDeadline(time.Now().Add(20 * time.Second))
	done := make(chan error, 1)
	go func() {
		done <- r.call(what+": server echo", func() error {
			buf := make([]byte, 4)
			if _, err := io.ReadFull(s, buf); err != nil {
				return err
			}
			if _, err := s.Write(buf); err != nil {
				return err
			}
			return s.Flush()
		})
	}()
	err := r.op(&chaosSide{name: what, s: h.cs}, "client ping", func() error {
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		if h.cs != nil {
			if err := h.cs.Flush(); err != nil {
				return err
			}
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		if string(buf) != "ping" {
			return errors.New("chaos: the echo came back as " + string(buf))
		}
		return nil
	})
	return firstErr(err, <-done)
}

// close closes whatever the attempt left open.
func (h *chaosHS) close() {
	if h.cs != nil {
		h.cs.Close()
	}
	if h.cg != nil {
		h.cg.Close()
	}
	if h.ss != nil {
		h.ss.Close()
	}
	for _, c := range h.raw {
		if c != nil {
			c.Close()
		}
	}
}

// resumed reports whether the client's handshake resumed a session.
func (h *chaosHS) resumed() bool {
	switch {
	case h.cs != nil:
		return h.cs.HandshakeKind() == HandshakeResumed
	case h.cg != nil:
		return h.cg.ConnectionState().DidResume
	}
	return false
}

// namesCallback reports whether err says that a callback panicked and
// which one (any of names, case-insensitively).
func namesCallback(err error, names ...string) bool {
	if err == nil {
		return false
	}
	msg := strings.ToLower(err.Error())
	if !strings.Contains(msg, "panic") {
		return false
	}
	for _, n := range names {
		if strings.Contains(msg, strings.ToLower(n)) {
			return true
		}
	}
	return false
}
