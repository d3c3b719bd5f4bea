package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// FlushEvery is how much data the bulk workloads write between two
// Flush calls (with 1 KiB writes, one Flush every 64 writes), and the size
// of the bufio.Writer in front of a buffered crypto/tls connection.
const FlushEvery = 64 << 10

// Pair is one established connection of one stack: a client and a server
// over loopback TCP, both in this process.
type Pair struct {
	Client, Server       Conn
	RawClient, RawServer net.Conn // the transports under the TLS connections
}

// tcpPair dials a fresh loopback listener and returns both ends.
func tcpPair() (client, server net.Conn, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	return dialAccept(ln)
}

// dialAccept makes one connection to ln and accepts it.
func dialAccept(ln net.Listener) (client, server net.Conn, err error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	r := <-ch
	if err != nil || r.err != nil {
		closeConn(client)
		closeConn(r.c)
		return nil, nil, errors.Join(err, r.err)
	}
	return client, r.c, nil
}

// handshakeBoth runs the server handshake in a goroutine and the client's
// in this one.
func handshakeBoth(ctx context.Context, ep *Endpoints, cc, sc net.Conn) (client, server Conn, err error) {
	type res struct {
		c   Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := ep.Server(ctx, sc)
		ch <- res{s, err}
	}()
	client, cerr := ep.Client(ctx, cc)
	if cerr != nil {
		closeConn(sc) // unblock the server
	}
	r := <-ch
	if cerr != nil || r.err != nil {
		if client != nil {
			closeConn(client)
		}
		if r.c != nil {
			closeConn(r.c)
		}
		closeConn(cc)
		closeConn(sc)
		return nil, nil, fmt.Errorf("handshake: client: %v, server: %v", cerr, r.err)
	}
	return client, r.c, nil
}

// NewPair connects a client and a server of ep over loopback TCP.
func NewPair(ctx context.Context, ep *Endpoints) (*Pair, error) {
	cc, sc, err := tcpPair()
	if err != nil {
		return nil, err
	}
	c, s, err := handshakeBoth(ctx, ep, cc, sc)
	if err != nil {
		return nil, err
	}
	return &Pair{Client: c, Server: s, RawClient: cc, RawServer: sc}, nil
}

// Close closes both ends.
func (p *Pair) Close() {
	// Deadlines bound the close_notify exchange when a peer is gone.
	_ = p.Client.SetDeadline(time.Now().Add(time.Second))
	_ = p.Server.SetDeadline(time.Now().Add(time.Second))
	closeConn(p.Client)
	closeConn(p.Server)
}

// Bulk has the client write writes chunks of size bytes (calling Flush
// after each FlushEvery bytes and at the end; on write-through connections
// those Flushes find nothing to send) while the server reads and discards
// them; it returns once the server has read everything.
func (p *Pair) Bulk(writes, size int) error {
	total := int64(writes) * int64(size)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10)
		var got int64
		for got < total {
			n, err := p.Server.Read(buf)
			got += int64(n)
			if err != nil {
				done <- fmt.Errorf("bulk read after %d of %d bytes: %w", got, total, err)
				return
			}
		}
		done <- nil
	}()
	chunk := make([]byte, size)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	werr := func() error {
		pending := 0
		for range writes {
			if _, err := p.Client.Write(chunk); err != nil {
				return err
			}
			pending += size
			if pending >= FlushEvery {
				if err := p.Client.Flush(); err != nil {
					return err
				}
				pending = 0
			}
		}
		return p.Client.Flush()
	}()
	if werr != nil {
		closeConn(p.RawServer) // unblock the reader
		<-done
		return fmt.Errorf("bulk write: %w", werr)
	}
	return <-done
}

// Echo has the client send n messages of size bytes, each flushed, and
// wait for the server to echo each one back.
func (p *Pair) Echo(n, size int) error {
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, size)
		for range n {
			if _, err := io.ReadFull(p.Server, buf); err != nil {
				done <- fmt.Errorf("echo server read: %w", err)
				return
			}
			if _, err := p.Server.Write(buf); err != nil {
				done <- fmt.Errorf("echo server write: %w", err)
				return
			}
			if err := p.Server.Flush(); err != nil {
				done <- fmt.Errorf("echo server flush: %w", err)
				return
			}
		}
		done <- nil
	}()
	msg := make([]byte, size)
	back := make([]byte, size)
	cerr := func() error {
		for range n {
			if _, err := p.Client.Write(msg); err != nil {
				return err
			}
			if err := p.Client.Flush(); err != nil {
				return err
			}
			if _, err := io.ReadFull(p.Client, back); err != nil {
				return err
			}
		}
		return nil
	}()
	if cerr != nil {
		closeConn(p.RawServer)
		<-done
		return fmt.Errorf("echo client: %w", cerr)
	}
	return <-done
}
