// Command rotation rotates a client certificate under a running
// rustlshttp.Transport, as a workload with short-lived certificates does:
// a request in flight during the rotation finishes with the old identity,
// pooled connections are kept (and keep theirs), and new connections
// present the new certificate. rustls.Connector and rustls.Dialer rotate
// the same way, with SetConfig.
//
//	go run ./examples/rotation
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/gorustls/gorustls/examples/internal/democert"
	"github.com/gorustls/gorustls/rustls"
	"github.com/gorustls/gorustls/rustlshttp"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	ca, err := democert.NewCA()
	if err != nil {
		return err
	}
	url, started, release, stop, err := mtlsServer(ca)
	if err != nil {
		return err
	}
	defer stop()

	// The workload's first certificate.
	cfg, err := identity(ca, "workload-1")
	if err != nil {
		return err
	}
	tr := rustlshttp.NewTransport(cfg)
	var dials atomic.Int32
	tr.OnDial = func(*rustls.Stream) { dials.Add(1) }
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	fetch := func(path string) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return fmt.Sprintf("%s (%s, connection %d)", b, resp.Proto, dials.Load()), err
	}
	line, err := fetch("/")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "before the rotation: %s\n", line)

	// A slow request is in flight when the certificate rotates.
	slow := make(chan string, 1)
	go func() {
		line, err := fetch("/slow")
		if err != nil {
			line = err.Error()
		}
		slow <- line
	}()
	select {
	case <-started:
	case <-ctx.Done():
		return ctx.Err()
	}

	// Rotation: a new certificate, a new config, swapped atomically. The
	// old config can be closed at once: connections made with it keep
	// working.
	next, err := identity(ca, "workload-2")
	if err != nil {
		return err
	}
	tr.SetClientConfig(next)
	cfg.Close()
	defer next.Close()
	close(release)
	fmt.Fprintf(out, "in flight during the rotation: %s\n", <-slow)

	// The pooled connection survived the rotation and keeps its identity.
	if line, err = fetch("/"); err != nil {
		return err
	}
	fmt.Fprintf(out, "pooled connection: %s\n", line)

	// Closing idle connections makes the next request dial anew, with the
	// new certificate (otherwise that happens as connections are retired).
	tr.CloseIdleConnections()
	if line, err = fetch("/"); err != nil {
		return err
	}
	fmt.Fprintf(out, "new connection: %s\n", line)
	return nil
}

// identity builds a client config presenting a new certificate for cn.
func identity(ca *democert.CA, cn string) (*rustls.ClientConfig, error) {
	k, err := ca.ClientKey(cn)
	if err != nil {
		return nil, err
	}
	defer k.Close() // the config keeps its own reference
	return rustls.NewClientConfig(rustls.ClientOptions{
		RootCAs:     ca.PEM,
		Certificate: k,
		NextProtos:  []string{"h2", "http/1.1"},
	})
}

// mtlsServer serves HTTPS on loopback, requiring a client certificate from
// ca, and greets the client by its certificate's common name. /slow
// signals started and waits for release.
func mtlsServer(ca *democert.CA) (url string, started chan struct{}, release chan struct{}, stop func(), err error) {
	k, err := ca.ServerKey("localhost")
	if err != nil {
		return "", nil, nil, nil, err
	}
	defer k.Close()
	cfg, err := rustls.NewServerConfig(rustls.ServerOptions{
		Certificates: []*rustls.CertifiedKey{k},
		NextProtos:   []string{"h2", "http/1.1"},
		ClientAuth:   rustls.RequireAndVerifyClientCert,
		ClientCAs:    ca.PEM,
	})
	if err != nil {
		return "", nil, nil, nil, err
	}
	started, release = make(chan struct{}), make(chan struct{})
	srv := &rustlshttp.Server{Config: cfg, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		fmt.Fprintf(w, "hello, %s", r.TLS.PeerCertificates[0].Subject.CommonName)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cfg.Close()
		return "", nil, nil, nil, err
	}
	go func() { _ = srv.Serve(ln) }()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		cfg.Close()
	}
	return "https://localhost:" + port, started, release, stop, nil
}
