package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/gorustls/gorustls/rustls"
	"github.com/gorustls/gorustls/rustlsgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
)

// demoGRPC starts a gRPC health server requiring client certificates on
// st's TLS stack and returns a call that checks it with a client of the
// same stack, reporting the status and the client identity the server saw.
func demoGRPC(st *demoStack, p *demoPKI) (func() (string, error), error) {
	var server, client credentials.TransportCredentials
	if st.name == "crypto/tls" {
		server = credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{p.local.tls},
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.ca.pool()})
		client = credentials.NewTLS(&tls.Config{RootCAs: p.ca.pool(), Certificates: []tls.Certificate{p.client.tls}})
	} else {
		sk, err := p.local.certifiedKey()
		if err != nil {
			return nil, err
		}
		defer sk.Close()
		scfg, err := rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{sk},
			ClientAuth: rustls.RequireAndVerifyClientCert, ClientCAs: p.ca.pem, NextProtos: []string{"h2"}})
		if err != nil {
			return nil, err
		}
		st.closers = append(st.closers, func() { scfg.Close() })
		ck, err := p.client.certifiedKey()
		if err != nil {
			return nil, err
		}
		defer ck.Close()
		ccfg, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: p.ca.pem, Certificate: ck, NextProtos: []string{"h2"}})
		if err != nil {
			return nil, err
		}
		st.closers = append(st.closers, func() { ccfg.Close() })
		server, client = rustlsgrpc.NewServerCredentials(scfg), rustlsgrpc.NewClientCredentials(ccfg)
	}
	ln, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	seen := make(chan string, 8)
	srv := grpc.NewServer(grpc.Creds(server), grpc.UnaryInterceptor(
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
			who := "none"
			if pr, ok := peer.FromContext(ctx); ok {
				if ti, ok := pr.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
					who = ti.State.PeerCertificates[0].Subject.CommonName
				}
			}
			select {
			case seen <- who:
			default:
			}
			return next(ctx, req)
		}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(ln) }()
	st.closers = append(st.closers, srv.Stop)
	addr := ln.Addr().(*net.TCPAddr).String()
	return func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), demoTimeout)
		defer cancel()
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(client), grpc.WithAuthority("localhost"))
		if err != nil {
			return "", err
		}
		defer conn.Close()
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return "", err
		}
		select {
		case who := <-seen:
			return fmt.Sprintf("%s, server saw client=%s", resp.GetStatus(), who), nil
		default:
			return "", errors.New("the interceptor did not run")
		}
	}, nil
}
