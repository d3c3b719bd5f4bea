package rustls

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"golang.org/x/net/nettest"
)

// TestNetConnConformance runs x/net/nettest's net.Conn conformance suite
// over TCP loopback. c1, the side whose deadlines, Close and concurrency
// the suite exercises, is always a gorustls Stream (write-through, as
// generic code expects); c2 is a gorustls Stream or a crypto/tls Conn.
// No subtest is skipped. (With a crypto/tls Conn as c1, PastTimeout,
// FutureTimeout and ConcurrentMethods fail on crypto/tls's side: a Write
// that times out makes every later Write fail. See docs/design.md.)
func TestNetConnConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		mp   func(t *testing.T) nettest.MakePipe
	}{
		{"gorustls client/gorustls server", rustlsRustlsPipe},
		{"gorustls server/gorustls client", func(t *testing.T) nettest.MakePipe { return swapped(rustlsRustlsPipe(t)) }},
		{"gorustls client/crypto-tls server", rustlsClientGoServerPipe},
		{"gorustls server/crypto-tls client", rustlsServerGoClientPipe},
	} {
		t.Run(tc.name, func(t *testing.T) { nettest.TestConn(t, tc.mp(t)) })
	}
}

// swapped makes the second end of mp's pipes the first.
func swapped(mp nettest.MakePipe) nettest.MakePipe {
	return func() (c1, c2 net.Conn, stop func(), err error) {
		c1, c2, stop, err = mp()
		return c2, c1, stop, err
	}
}

// conformanceOpts are the options of the Streams handed to nettest.
var conformanceOpts = StreamOptions{WriteThrough: true}

// loopbackPipe accepts one TCP connection and returns both ends and a stop
// function that closes them and the listener.
func loopbackPipe() (client, server net.Conn, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	server = <-ch
	if server == nil {
		client.Close()
		return nil, nil, net.ErrClosed
	}
	return client, server, nil
}

// handshakeBoth runs the two handshakes concurrently within 10 seconds.
func handshakeBoth(a, b func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- b(ctx) }()
	err := a(ctx)
	if berr := <-errc; err == nil {
		err = berr
	}
	return err
}

func rustlsRustlsPipe(t *testing.T) nettest.MakePipe {
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	return func() (c1, c2 net.Conn, stop func(), err error) {
		cc, sc, err := loopbackPipe()
		if err != nil {
			return nil, nil, nil, err
		}
		var c, s *Stream
		err = handshakeBoth(func(ctx context.Context) (err error) {
			c, err = NewConnector(ccfg, conformanceOpts).Connect(ctx, cc, "localhost")
			return err
		}, func(ctx context.Context) (err error) {
			s, err = NewAcceptor(scfg, conformanceOpts).Accept(ctx, sc)
			return err
		})
		if err != nil {
			cc.Close()
			sc.Close()
			return nil, nil, nil, err
		}
		return c, s, func() { c.Close(); s.Close() }, nil
	}
}

func rustlsClientGoServerPipe(t *testing.T) nettest.MakePipe {
	gcfg, ccfg := goTLSServerConfig(t), clientConfig(t, nil)
	return func() (c1, c2 net.Conn, stop func(), err error) {
		cc, sc, err := loopbackPipe()
		if err != nil {
			return nil, nil, nil, err
		}
		var c *Stream
		g := tls.Server(sc, gcfg)
		err = handshakeBoth(func(ctx context.Context) (err error) {
			c, err = NewConnector(ccfg, conformanceOpts).Connect(ctx, cc, "localhost")
			return err
		}, g.HandshakeContext)
		if err != nil {
			cc.Close()
			sc.Close()
			return nil, nil, nil, err
		}
		return c, g, func() { c.Close(); g.Close() }, nil
	}
}

func rustlsServerGoClientPipe(t *testing.T) nettest.MakePipe {
	scfg, gcfg := serverConfig(t, nil), goTLSClientConfig(t)
	return func() (c1, c2 net.Conn, stop func(), err error) {
		cc, sc, err := loopbackPipe()
		if err != nil {
			return nil, nil, nil, err
		}
		var s *Stream
		g := tls.Client(cc, gcfg)
		err = handshakeBoth(func(ctx context.Context) (err error) {
			s, err = NewAcceptor(scfg, conformanceOpts).Accept(ctx, sc)
			return err
		}, g.HandshakeContext)
		if err != nil {
			cc.Close()
			sc.Close()
			return nil, nil, nil, err
		}
		return s, g, func() { s.Close(); g.Close() }, nil
	}
}
