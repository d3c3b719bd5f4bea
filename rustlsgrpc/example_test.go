package rustlsgrpc_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/gorustls/gorustls/internal/pki"
	"github.com/gorustls/gorustls/rustls"
	"github.com/gorustls/gorustls/rustlsgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// A gRPC server and client, both on gorustls. Both configs offer ALPN
// "h2", which gRPC requires.
func Example() {
	ca, _ := pki.NewCA("example CA")
	leaf, _ := ca.Server("localhost")
	key, _ := rustls.NewCertifiedKey(leaf.ChainPEM, leaf.KeyPEM)
	defer key.Close()
	scfg, _ := rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{key}, NextProtos: []string{"h2"}})
	defer scfg.Close()
	ccfg, _ := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: ca.PEM, NextProtos: []string{"h2"}})
	defer ccfg.Close()

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := grpc.NewServer(grpc.Creds(rustlsgrpc.NewServerCredentials(scfg)))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	defer srv.Stop()

	conn, err := grpc.NewClient(ln.Addr().String(),
		grpc.WithTransportCredentials(rustlsgrpc.NewClientCredentials(ccfg)),
		grpc.WithAuthority("localhost")) // the name in the server's certificate
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.GetStatus())
	// Output: SERVING
}
