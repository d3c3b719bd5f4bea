package rustlsgrpc_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	"github.com/gorustls/gorustls/internal/pki"
	"github.com/gorustls/gorustls/rustls"
	"github.com/gorustls/gorustls/rustlsgrpc"
)

// Mutual TLS for gRPC: the server requires a client certificate, and an
// interceptor reads the verified client identity from the peer's
// credentials.TLSInfo, as with grpc-go's own TLS credentials.
func ExampleNewServerCredentials() {
	ca, err := pki.NewCA("example CA")
	if err != nil {
		log.Fatal(err)
	}
	serverLeaf, _ := ca.Server("localhost")
	clientLeaf, _ := ca.Client("billing-service")
	serverKey, err := rustls.NewCertifiedKey(serverLeaf.ChainPEM, serverLeaf.KeyPEM)
	if err != nil {
		log.Fatal(err)
	}
	defer serverKey.Close()
	clientKey, err := rustls.NewCertifiedKey(clientLeaf.ChainPEM, clientLeaf.KeyPEM)
	if err != nil {
		log.Fatal(err)
	}
	defer clientKey.Close()
	// The credentials use the configs, they do not own them: close them
	// after the server and the client connection.
	scfg, err := rustls.NewServerConfig(rustls.ServerOptions{
		Certificates: []*rustls.CertifiedKey{serverKey},
		NextProtos:   []string{"h2"}, // required by gRPC
		ClientAuth:   rustls.RequireAndVerifyClientCert,
		ClientCAs:    ca.PEM,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer scfg.Close()
	ccfg, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: ca.PEM, NextProtos: []string{"h2"}, Certificate: clientKey})
	if err != nil {
		log.Fatal(err)
	}
	defer ccfg.Close()

	whoIsCalling := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if p, ok := peer.FromContext(ctx); ok {
			if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
				fmt.Println("caller:", ti.State.PeerCertificates[0].Subject.CommonName, ti.SecurityLevel)
			}
		}
		return handler(ctx, req)
	}
	srv := grpc.NewServer(grpc.Creds(rustlsgrpc.NewServerCredentials(scfg)), grpc.UnaryInterceptor(whoIsCalling))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Stop()

	conn, err := grpc.NewClient(ln.Addr().String(),
		grpc.WithTransportCredentials(rustlsgrpc.NewClientCredentials(ccfg)),
		grpc.WithAuthority("localhost"))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.GetStatus())
	// Output:
	// caller: billing-service PrivacyAndIntegrity
	// SERVING
}

// Client credentials check that the config offers "h2" at every handshake;
// Info reports the protocol as grpc-go's TLS credentials do.
func ExampleNewClientCredentials() {
	ca, err := pki.NewCA("example CA")
	if err != nil {
		log.Fatal(err)
	}
	ccfg, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: ca.PEM, NextProtos: []string{"h2"}})
	if err != nil {
		log.Fatal(err)
	}
	defer ccfg.Close()
	creds := rustlsgrpc.NewClientCredentials(ccfg) // safe for concurrent use
	fmt.Println(creds.Info().SecurityProtocol)

	noH2, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: ca.PEM})
	if err != nil {
		log.Fatal(err)
	}
	defer noH2.Close()
	a, b := net.Pipe()
	defer b.Close()
	_, _, err = rustlsgrpc.NewClientCredentials(noH2).ClientHandshake(context.Background(), "localhost:443", a)
	fmt.Println(err)
	// Output:
	// tls
	// rustlsgrpc: the ClientConfig does not offer ALPN "h2" (set ClientOptions.NextProtos); gRPC needs HTTP/2
}
