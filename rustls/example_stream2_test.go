package rustls_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/gorustls/gorustls/rustls"
)

// Choose the server config per connection from the ClientHello: a config
// per SNI name, and a refusal (alert unrecognized_name) for the rest.
func ExampleLazyAcceptor() {
	ca, _ := examplePKI()
	configs, closeConfigs := exampleSites(ca, "api.example", "www.example")
	defer closeConfigs() // the LazyAcceptor does not own the configs
	la := &rustls.LazyAcceptor{
		// Runs once per connection, on the accepting goroutine, for many
		// connections at once: it only reads the map here.
		Choose: func(hello *rustls.ClientHello) (*rustls.ServerConfig, error) {
			if cfg, ok := configs[hello.ServerName]; ok {
				return cfg, nil
			}
			return nil, errors.New("unknown name " + hello.ServerName)
		},
	}
	clientCfg := exampleClientConfig(rustls.ClientOptions{RootCAs: ca.PEM})
	defer clientCfg.Close()

	ctx, cancel := exampleContext()
	defer cancel()
	connector := rustls.NewConnector(clientCfg, rustls.StreamOptions{})
	for _, name := range []string{"www.example", "mail.example"} {
		cconn := exampleServe(ctx, la.Accept, nil) // la.Accept closes the connection on failure
		c, err := connector.Connect(ctx, cconn, name)
		if err != nil {
			fmt.Println(name, "refused, alert", exampleAlert(err))
			continue
		}
		fmt.Println(name, "served with", c.ConnectionState().PeerCertificates[0].DNSNames)
		c.Close()
	}
	// Output:
	// www.example served with [www.example]
	// mail.example refused, alert 112
}

// Rotate the client certificate: connections made after SetConfig present
// the new one; streams already made keep theirs, and the old config may
// be closed as soon as SetConfig returns.
func ExampleConnector_SetConfig() {
	ca, _ := examplePKI()
	serverCfg := exampleServerConfig(ca, "localhost", rustls.ServerOptions{
		ClientAuth: rustls.RequireAndVerifyClientCert,
		ClientCAs:  ca.PEM,
	})
	defer serverCfg.Close()
	clientConfig := func(cn string) *rustls.ClientConfig {
		l, err := ca.Client(cn)
		if err != nil {
			log.Fatal(err)
		}
		k := exampleKey(l)
		defer k.Close() // the config keeps its own reference
		return exampleClientConfig(rustls.ClientOptions{RootCAs: ca.PEM, Certificate: k})
	}

	ctx, cancel := exampleContext()
	defer cancel()
	acceptor := rustls.NewAcceptor(serverCfg, rustls.StreamOptions{})
	first := clientConfig("client, January")
	connector := rustls.NewConnector(first, rustls.StreamOptions{}) // safe for concurrent use
	for i := 0; i < 2; i++ {
		if i == 1 {
			second := clientConfig("client, February")
			defer second.Close()
			connector.SetConfig(second)
			first.Close()
		}
		sconn := exampleClient(ctx, connector, nil)
		s, err := acceptor.Accept(ctx, sconn)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("server saw", s.ConnectionState().PeerCertificates[0].Subject.CommonName)
		s.Close()
	}
	// Output:
	// server saw client, January
	// server saw client, February
}

// Read ends with io.EOF only after the peer's close_notify. A peer whose
// connection ends without it (a truncation attack, or a crash) gives
// io.ErrUnexpectedEOF, so a cut-off message is never taken for a whole
// one.
func ExampleStream_Read() {
	serverCfg, clientCfg := exampleConfigs()
	defer serverCfg.Close()
	defer clientCfg.Close()
	ctx, cancel := exampleContext()
	defer cancel()
	for _, clean := range []bool{true, false} {
		// Closing the server's Stream sends close_notify, then closes TCP.
		c := exampleStream(ctx, serverCfg, clientCfg, rustls.StreamOptions{}, func(s *rustls.Stream) {
			_, _ = s.Write([]byte("all of it"))
			if !clean {
				s.NetConn().Close() // the TCP connection ends without close_notify
			}
		})
		data, err := io.ReadAll(c) // ReadAll treats io.EOF as success
		fmt.Printf("%q %v\n", data, err)
		c.Close()
	}
	// Output:
	// "all of it" <nil>
	// "all of it" unexpected EOF
}

// A read deadline that fires returns a timeout (os.ErrDeadlineExceeded)
// and leaves the Stream usable once the deadline is moved, as on a
// net.TCPConn.
func ExampleStream_SetReadDeadline() {
	serverCfg, clientCfg := exampleConfigs()
	defer serverCfg.Close()
	defer clientCfg.Close()
	ctx, cancel := exampleContext()
	defer cancel()
	wake := make(chan struct{})
	c := exampleStream(ctx, serverCfg, clientCfg, rustls.StreamOptions{}, func(s *rustls.Stream) {
		<-wake
		_, _ = s.Write([]byte("late"))
		_, _ = io.Copy(io.Discard, s)
	})
	defer c.Close()
	buf := make([]byte, 4)
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.Read(buf) // the server is silent
	fmt.Println("timeout:", errors.Is(err, os.ErrDeadlineExceeded))

	close(wake)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.ReadFull(c, buf)
	fmt.Println(string(buf[:n]), err)
	// Output:
	// timeout: true
	// late <nil>
}

// rustls-ffi 0.15 has no keying-material exporter: the Stream's method
// says so with an error, where the one of the tls.ConnectionState it
// returns would panic.
func ExampleStream_ExportKeyingMaterial() {
	serverCfg, clientCfg := exampleConfigs()
	defer serverCfg.Close()
	defer clientCfg.Close()
	ctx, cancel := exampleContext()
	defer cancel()
	c := exampleStream(ctx, serverCfg, clientCfg, rustls.StreamOptions{}, nil)
	defer c.Close()
	_, err := c.ExportKeyingMaterial("EXPORTER-example", nil, 32)
	fmt.Println("unsupported:", errors.Is(err, errors.ErrUnsupported))
	// Output: unsupported: true
}
