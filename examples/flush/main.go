// Command flush shows gorustls's write buffering: without WriteThrough a
// Write only encrypts into rustls's buffer and Flush sends it, so many
// small writes leave as a few TCP writes. With WriteThrough every Write is
// sent at once, as crypto/tls does.
//
//	go run ./examples/flush
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/gorustls/gorustls/examples/internal/democert"
	"github.com/gorustls/gorustls/rustls"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

const messages = 100

func run(ctx context.Context, out io.Writer) error {
	ca, err := democert.NewCA()
	if err != nil {
		return err
	}
	leaf, err := ca.Server("localhost")
	if err != nil {
		return err
	}
	scfg, err := leaf.ServerConfig()
	if err != nil {
		return err
	}
	defer scfg.Close()
	ln, err := rustls.Listen("tcp", "127.0.0.1:0", scfg, rustls.StreamOptions{})
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	ccfg, err := ca.ClientConfig()
	if err != nil {
		return err
	}
	defer ccfg.Close()

	for _, writeThrough := range []bool{false, true} {
		raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		cc := &countingConn{Conn: raw}
		s, err := rustls.NewConnector(ccfg, rustls.StreamOptions{WriteThrough: writeThrough}).Connect(ctx, cc, "localhost")
		if err != nil {
			return err
		}
		before := cc.writes.Load() // the handshake's writes
		for i := range messages {
			if _, err := fmt.Fprintf(s, "small message %d\n", i); err != nil {
				return err
			}
		}
		// One Flush sends everything the writes left in the buffer (with
		// WriteThrough there is nothing left to send).
		if err := s.Flush(); err != nil {
			return err
		}
		n := cc.writes.Load() - before
		if err := s.CloseWrite(); err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, s)
		s.Close()
		mode := "buffered + Flush"
		if writeThrough {
			mode = "WriteThrough    "
		}
		fmt.Fprintf(out, "%s: %d writes -> %d TCP write(s)\n", mode, messages, n)
	}
	return nil
}
