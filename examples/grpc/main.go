// Command grpc serves gRPC over gorustls with mutual TLS: a server with
// rustlsgrpc server credentials, an authorization interceptor that reads
// the client's certificate through peer.FromContext as it would under
// crypto/tls, and a client that calls the standard health service.
//
//	go run ./examples/grpc
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"time"

	"github.com/gorustls/gorustls/examples/internal/democert"
	"github.com/gorustls/gorustls/rustls"
	"github.com/gorustls/gorustls/rustlsgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// onlyAlice is an authorization interceptor written for crypto/tls
// credentials; it works unchanged with rustlsgrpc's.
func onlyAlice(out io.Writer) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		p, _ := peer.FromContext(ctx)
		tlsInfo, ok := p.AuthInfo.(credentials.TLSInfo)
		if !ok || len(tlsInfo.State.PeerCertificates) == 0 {
			return nil, status.Error(codes.Unauthenticated, "no client certificate")
		}
		cn := tlsInfo.State.PeerCertificates[0].Subject.CommonName
		fmt.Fprintf(out, "server: %s called by %s over %s\n", info.FullMethod, cn, tlsInfo.State.NegotiatedProtocol)
		if cn != "alice" {
			return nil, status.Errorf(codes.PermissionDenied, "%s may not call this", cn)
		}
		return next(ctx, req)
	}
}

func run(ctx context.Context, out io.Writer) error {
	ca, err := democert.NewCA()
	if err != nil {
		return err
	}
	srvKey, err := ca.ServerKey("localhost")
	if err != nil {
		return err
	}
	defer srvKey.Close()
	scfg, err := rustls.NewServerConfig(rustls.ServerOptions{
		Certificates: []*rustls.CertifiedKey{srvKey},
		ClientAuth:   rustls.RequireAndVerifyClientCert,
		ClientCAs:    ca.PEM,
		NextProtos:   []string{"h2"}, // gRPC needs HTTP/2
	})
	if err != nil {
		return err
	}
	defer scfg.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer(grpc.Creds(rustlsgrpc.NewServerCredentials(scfg)), grpc.UnaryInterceptor(onlyAlice(out)))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()

	for _, who := range []string{"alice", "mallory"} {
		key, err := ca.ClientKey(who)
		if err != nil {
			return err
		}
		ccfg, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: ca.PEM, Certificate: key, NextProtos: []string{"h2"}})
		key.Close() // the config holds its own reference
		if err != nil {
			return err
		}
		// The certificate names localhost: grpc hands the authority to the
		// credentials as the name to verify.
		conn, err := grpc.NewClient(ln.Addr().String(),
			grpc.WithTransportCredentials(rustlsgrpc.NewClientCredentials(ccfg)),
			grpc.WithAuthority("localhost"))
		if err != nil {
			ccfg.Close()
			return err
		}
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		conn.Close()
		ccfg.Close()
		if err != nil {
			fmt.Fprintf(out, "%s: %v\n", who, status.Convert(err).Message())
			continue
		}
		fmt.Fprintf(out, "%s: health %s\n", who, resp.GetStatus())
	}
	return nil
}
