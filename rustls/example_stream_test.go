package rustls_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"time"

	"github.com/gorustls/gorustls/rustls"
)

// A server's accept loop: one goroutine per connection, each handshake
// bounded by its own timeout so that a silent client holds only its own
// goroutine. On failure Accept closes the connection.
func ExampleAcceptor_Accept() {
	serverCfg, clientCfg := exampleConfigs()
	defer serverCfg.Close()
	defer clientCfg.Close()
	ln := exampleTCPListener()
	defer ln.Close()

	// Safe for concurrent use; it does not own serverCfg (keep the config
	// open while the acceptor serves).
	acceptor := rustls.NewAcceptor(serverCfg, rustls.StreamOptions{WriteThrough: true})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // ln closed
			}
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				s, err := acceptor.Accept(ctx, conn)
				if err != nil {
					return // conn is closed already
				}
				defer s.Close()
				line, err := bufio.NewReader(s).ReadString('\n')
				if err == nil {
					fmt.Fprintf(s, "echo: %s", line) // write-through: sent at once
				}
			}()
		}
	}()

	ctx, cancel := exampleContext()
	defer cancel()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	c, err := rustls.NewConnector(clientCfg, rustls.StreamOptions{WriteThrough: true}).Connect(ctx, conn, "localhost")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintln(c, "hello")
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(reply)
	// Output: echo: hello
}

// Acceptor.Server wraps an accepted connection without reading from it:
// the handshake runs on the Stream's first Read or Write, bounded by
// StreamOptions.HandshakeTimeout, or on an explicit Handshake.
func ExampleNewAcceptor() {
	serverCfg, clientCfg := exampleConfigs("echo/1")
	defer serverCfg.Close()
	defer clientCfg.Close()
	acceptor := rustls.NewAcceptor(serverCfg, rustls.StreamOptions{
		WriteThrough:     true,
		HandshakeTimeout: 10 * time.Second,
	})

	ctx, cancel := exampleContext()
	defer cancel()
	sconn := exampleClient(ctx, rustls.NewConnector(clientCfg, rustls.StreamOptions{}), func(c *rustls.Stream) {
		_, _ = c.Write([]byte("hi"))
		_ = c.Flush()
		_, _ = io.Copy(io.Discard, c)
	})
	s, err := acceptor.Server(sconn) // no I/O yet; s owns sconn
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	buf := make([]byte, 2)
	if _, err := io.ReadFull(s, buf); err != nil { // handshake, then data
		log.Fatal(err)
	}
	fmt.Println(string(buf), "over", s.ConnectionState().NegotiatedProtocol)
	// Output: hi over echo/1
}

// AcceptFallible hands the connection back, open, when the handshake
// fails: here a client that spoke plain HTTP to a TLS port. The alert
// rustls sent for the garbage has gone out first (a 7-byte TLS record,
// decode_error); what follows is the server's own.
func ExampleAcceptor_AcceptFallible() {
	serverCfg, _ := exampleConfigs()
	defer serverCfg.Close()
	acceptor := rustls.NewAcceptor(serverCfg, rustls.StreamOptions{})

	ctx, cancel := exampleContext()
	defer cancel()
	cconn, sconn := exampleTCPPair()
	defer cconn.Close()
	go func() {
		s, err := acceptor.AcceptFallible(ctx, sconn)
		if err != nil {
			// sconn is still open; what rustls read of it is gone.
			io.WriteString(sconn, "this port speaks TLS\n")
			sconn.Close()
			return
		}
		s.Close()
	}()
	io.WriteString(cconn, "GET / HTTP/1.0\r\n\r\n") // plain HTTP
	answer, err := io.ReadAll(cconn)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("alert % x\n", answer[:7])
	fmt.Printf("then %q\n", answer[7:])
	// Output:
	// alert 15 03 03 00 02 02 32
	// then "this port speaks TLS\n"
}

// A Connector wraps connections the caller dialed. Client defers the
// handshake to the first Read or Write; Connect runs it at once. A bad
// server name is refused before anything is sent.
func ExampleNewConnector() {
	serverCfg, clientCfg := exampleConfigs()
	defer serverCfg.Close()
	defer clientCfg.Close()
	// Safe for concurrent use; connections made with it share clientCfg's
	// session cache. It does not own clientCfg.
	connector := rustls.NewConnector(clientCfg, rustls.StreamOptions{})

	ctx, cancel := exampleContext()
	defer cancel()
	cconn := exampleServe(ctx, rustls.NewAcceptor(serverCfg, rustls.StreamOptions{}).Accept, nil)
	c, err := connector.Client(cconn, "localhost") // no handshake yet; c owns cconn
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("before I/O:", c.ConnectionState().HandshakeComplete)
	if _, err := c.Write([]byte("ping")); err != nil { // runs the handshake
		log.Fatal(err)
	}
	fmt.Println("after Write:", c.ConnectionState().HandshakeComplete, c.CipherSuiteName())

	cconn2, sconn2 := exampleTCPPair()
	defer sconn2.Close()
	_, err = connector.Connect(ctx, cconn2, "bad name\x00")
	fmt.Println("bad server name is invalid input:", errors.Is(err, rustls.ErrInvalidInput))
	// Output:
	// before I/O: false
	// after Write: true TLS13_AES_256_GCM_SHA384
	// bad server name is invalid input: true
}

// Write buffers (small writes are gathered into full TLS records) until
// Flush, like bufio.Writer: one C call and one system call per message,
// whatever the number of Writes. Streams made with WriteThrough flush on
// every Write instead.
func ExampleStream_Flush() {
	serverCfg, clientCfg := exampleConfigs()
	defer serverCfg.Close()
	defer clientCfg.Close()
	ctx, cancel := exampleContext()
	defer cancel()
	got := make(chan string, 1)
	c := exampleStream(ctx, serverCfg, clientCfg, rustls.StreamOptions{}, func(s *rustls.Stream) {
		line, _ := bufio.NewReader(s).ReadString('\n')
		got <- line
	})
	defer c.Close()
	for _, part := range []string{"GET ", "/index.html", "\n"} {
		if _, err := c.Write([]byte(part)); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("buffered:", c.Buffered()) // nothing sent yet
	if err := c.Flush(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("buffered:", c.Buffered())
	fmt.Printf("server read %q\n", <-got)
	// Output:
	// buffered: true
	// buffered: false
	// server read "GET /index.html\n"
}

// Ask for new traffic keys on a long-lived TLS 1.3 connection. The peer
// answers with its own KeyUpdate while it reads; data flows on unchanged.
// TLS 1.2 has no KeyUpdate: there it is an error.
func ExampleStream_KeyUpdate() {
	serverCfg, clientCfg := exampleConfigs()
	defer serverCfg.Close()
	defer clientCfg.Close()
	ctx, cancel := exampleContext()
	defer cancel()
	c := exampleStream(ctx, serverCfg, clientCfg, rustls.StreamOptions{WriteThrough: true}, func(s *rustls.Stream) {
		_, _ = io.Copy(s, s) // echo
	})
	defer c.Close()
	if err := c.KeyUpdate(); err != nil { // sent at once
		log.Fatal(err)
	}
	if _, err := c.Write([]byte("after the update\n")); err != nil {
		log.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(line)
	// Output: after the update
}

// Half-close: send close_notify (and a TCP FIN) when the request is
// complete, then read the answer. The peer's Read returns io.EOF after
// the request, as for a plain net.TCPConn's CloseWrite.
func ExampleStream_CloseWrite() {
	serverCfg, clientCfg := exampleConfigs()
	defer serverCfg.Close()
	defer clientCfg.Close()
	ctx, cancel := exampleContext()
	defer cancel()
	c := exampleStream(ctx, serverCfg, clientCfg, rustls.StreamOptions{}, func(s *rustls.Stream) {
		req, err := io.ReadAll(s) // until the client's close_notify
		if err == nil {
			fmt.Fprintf(s, "%d bytes received", len(req))
		}
	})
	defer c.Close()
	if _, err := c.Write([]byte("the whole request")); err != nil {
		log.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil { // flushes first
		log.Fatal(err)
	}
	_, err := c.Write([]byte("more"))
	fmt.Println("write after CloseWrite:", errors.Is(err, rustls.ErrWriteClosed))
	reply, err := io.ReadAll(c) // reading goes on until the server closes
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply))
	// Output:
	// write after CloseWrite: true
	// 17 bytes received
}

// Serve a crypto/tls server config through the ClientHello path: the
// certificate is chosen per connection from the SNI name, as crypto/tls
// chooses among Certificates.
func ExampleLazyAcceptorFromTLS() {
	ca, _ := examplePKI()
	var certs []tls.Certificate
	for _, name := range []string{"a.example", "b.example"} {
		leaf, err := ca.Server(name)
		if err != nil {
			log.Fatal(err)
		}
		cert, err := tls.X509KeyPair(leaf.ChainPEM, leaf.KeyPEM)
		if err != nil {
			log.Fatal(err)
		}
		certs = append(certs, cert)
	}
	la, err := rustls.LazyAcceptorFromTLS(&tls.Config{Certificates: certs}, nil)
	if err != nil {
		log.Fatal(err)
	}
	clientCfg := exampleClientConfig(rustls.ClientOptions{RootCAs: ca.PEM})
	defer clientCfg.Close()

	ctx, cancel := exampleContext()
	defer cancel()
	cconn := exampleServe(ctx, la.Accept, nil) // la.Accept closes the connection on failure
	c, err := rustls.NewConnector(clientCfg, rustls.StreamOptions{}).Connect(ctx, cconn, "b.example")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("served", c.ConnectionState().PeerCertificates[0].DNSNames)
	// Output: served [b.example]
}

// Read the ClientHello first and choose the server config from it (the
// lower-level form of LazyAcceptor): serve a known name, refuse the rest
// with an alert the client sees.
func ExampleReadClientHello() {
	serverCfg, clientCfg := exampleConfigs()
	defer serverCfg.Close()
	defer clientCfg.Close()
	ctx, cancel := exampleContext()
	defer cancel()

	serve := func(conn net.Conn) {
		defer conn.Close() // ReadClientHello and Refuse leave conn to the caller
		hs, err := rustls.ReadClientHello(ctx, conn)
		if err != nil {
			return // the alert, if any, was sent
		}
		if hs.ClientHello().ServerName != "localhost" {
			_ = hs.Refuse(rustls.AlertUnrecognizedName)
			return
		}
		s, err := hs.IntoStream(ctx, serverCfg, rustls.StreamOptions{}) // s owns conn on success
		if err != nil {
			return
		}
		defer s.Close()
		_, _ = io.Copy(io.Discard, s)
	}
	connector := rustls.NewConnector(clientCfg, rustls.StreamOptions{})
	for _, name := range []string{"localhost", "unknown.example"} {
		cconn, sconn := exampleTCPPair()
		go serve(sconn)
		c, err := connector.Connect(ctx, cconn, name)
		if err != nil {
			fmt.Println(name, "refused with alert", exampleAlert(err))
			continue
		}
		fmt.Println(name, "served")
		c.Close()
	}
	// Output:
	// localhost served
	// unknown.example refused with alert 112
}
