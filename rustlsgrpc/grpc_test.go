package rustlsgrpc

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gorustls/gorustls/internal/pki"
	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// testService echoes payloads and reports who the caller is.
type testService struct {
	testgrpc.UnimplementedTestServiceServer
}

// caller names the peer as the handler sees it through peer.FromContext:
// the client certificate's common name, or "anonymous".
func caller(ctx context.Context) (string, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", status.Error(codes.Internal, "no peer in context")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return "", status.Errorf(codes.Internal, "AuthInfo is %T, want credentials.TLSInfo", p.AuthInfo)
	}
	if err := credentials.CheckSecurityLevel(p.AuthInfo, credentials.PrivacyAndIntegrity); err != nil {
		return "", status.Error(codes.Unauthenticated, err.Error())
	}
	if len(info.State.PeerCertificates) == 0 {
		return "anonymous", nil
	}
	return info.State.PeerCertificates[0].Subject.CommonName, nil
}

func (testService) UnaryCall(ctx context.Context, in *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	who, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return &testgrpc.SimpleResponse{Payload: in.GetPayload(), Username: who}, nil
}

func (testService) FullDuplexCall(st grpc.BidiStreamingServer[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
	for {
		in, err := st.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := st.Send(&testgrpc.StreamingOutputCallResponse{Payload: in.GetPayload()}); err != nil {
			return err
		}
	}
}

type env struct {
	ca, otherCA *pki.CA
	srv         *pki.Leaf
	alice, bob  *pki.Leaf
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ca, err := pki.NewCA("rustlsgrpc test CA")
	require.NoError(t, err)
	other, err := pki.NewCA("some other CA")
	require.NoError(t, err)
	srv, err := ca.Server("localhost", "127.0.0.1")
	require.NoError(t, err)
	alice, err := ca.Client("alice")
	require.NoError(t, err)
	bob, err := ca.Client("bob")
	require.NoError(t, err)
	return &env{ca: ca, otherCA: other, srv: srv, alice: alice, bob: bob}
}

func key(t *testing.T, l *pki.Leaf) *rustls.CertifiedKey {
	t.Helper()
	k, err := rustls.NewCertifiedKey(l.ChainPEM, l.KeyPEM)
	require.NoError(t, err)
	t.Cleanup(func() { _ = k.Close() })
	return k
}

func (e *env) serverConfig(t *testing.T, mtls bool) *rustls.ServerConfig {
	t.Helper()
	o := rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{key(t, e.srv)}, NextProtos: []string{"h2"}}
	if mtls {
		o.ClientAuth = rustls.RequireAndVerifyClientCert
		o.ClientCAs = e.ca.PEM
	}
	cfg, err := rustls.NewServerConfig(o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cfg.Close() })
	return cfg
}

func (e *env) clientConfig(t *testing.T, roots []byte, cert *pki.Leaf, protos ...string) *rustls.ClientConfig {
	t.Helper()
	if protos == nil {
		protos = []string{"h2"}
	}
	o := rustls.ClientOptions{RootCAs: roots, NextProtos: protos}
	if cert != nil {
		o.Certificate = key(t, cert)
	}
	cfg, err := rustls.NewClientConfig(o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cfg.Close() })
	return cfg
}

// serve starts a grpc server with creds on loopback and returns its address.
func serve(t *testing.T, creds credentials.TransportCredentials) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := grpc.NewServer(grpc.Creds(creds), grpc.ConnectionTimeout(10*time.Second))
	testgrpc.RegisterTestServiceServer(s, testService{})
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

func dial(t *testing.T, addr string, creds credentials.TransportCredentials, opts ...grpc.DialOption) testgrpc.TestServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	return testgrpc.NewTestServiceClient(cc)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// unary makes one call and returns who the server says the caller is.
func unary(t *testing.T, c testgrpc.TestServiceClient) (string, error) {
	body := []byte("ping over rustls")
	r, err := c.UnaryCall(ctxT(t), &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: body}})
	if err != nil {
		return "", err
	}
	assert.Equal(t, body, r.GetPayload().GetBody())
	return r.GetUsername(), nil
}

func duplex(t *testing.T, c testgrpc.TestServiceClient, n int) error {
	st, err := c.FullDuplexCall(ctxT(t))
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		body := []byte(fmt.Sprintf("message %d", i))
		if err := st.Send(&testgrpc.StreamingOutputCallRequest{Payload: &testgrpc.Payload{Body: body}}); err != nil {
			return err
		}
		r, err := st.Recv()
		if err != nil {
			return err
		}
		if string(r.GetPayload().GetBody()) != string(body) {
			return fmt.Errorf("got %q, want %q", r.GetPayload().GetBody(), body)
		}
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	if _, err := st.Recv(); err != io.EOF {
		return fmt.Errorf("after CloseSend: %v, want io.EOF", err)
	}
	return nil
}

func goTLSClientCreds(e *env, cert *pki.Leaf) credentials.TransportCredentials {
	cfg := &tls.Config{RootCAs: e.ca.Pool()}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.TLSCertificate()}
	}
	return credentials.NewTLS(cfg)
}

func TestRustlsServerGoClient(t *testing.T) {
	e := newEnv(t)
	addr := serve(t, NewServerCredentials(e.serverConfig(t, true)))
	c := dial(t, addr, goTLSClientCreds(e, e.alice))
	who, err := unary(t, c)
	require.NoError(t, err)
	assert.Equal(t, "alice", who, "the handler sees the client certificate through peer.FromContext")
	require.NoError(t, duplex(t, c, 20))
}

func TestGoServerRustlsClient(t *testing.T) {
	e := newEnv(t)
	scfg := &tls.Config{Certificates: []tls.Certificate{e.srv.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: e.ca.Pool()}
	addr := serve(t, credentials.NewTLS(scfg))
	c := dial(t, addr, NewClientCredentials(e.clientConfig(t, e.ca.PEM, e.bob)))
	who, err := unary(t, c)
	require.NoError(t, err)
	assert.Equal(t, "bob", who)
	require.NoError(t, duplex(t, c, 20))
}

func TestRustlsBothSidesAuthInfo(t *testing.T) {
	e := newEnv(t)
	addr := serve(t, NewServerCredentials(e.serverConfig(t, false)))
	c := dial(t, addr, NewClientCredentials(e.clientConfig(t, e.ca.PEM, nil)))
	who, err := unary(t, c)
	require.NoError(t, err)
	assert.Equal(t, "anonymous", who)

	// The client side's AuthInfo, as grpc exposes it to interceptors.
	var p peer.Peer
	_, err = c.UnaryCall(ctxT(t), &testgrpc.SimpleRequest{}, grpc.Peer(&p))
	require.NoError(t, err)
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	require.True(t, ok, "AuthInfo is %T", p.AuthInfo)
	assert.Equal(t, credentials.PrivacyAndIntegrity, info.SecurityLevel)
	assert.Equal(t, "h2", info.State.NegotiatedProtocol)
	assert.Equal(t, uint16(tls.VersionTLS13), info.State.Version)
	require.NotEmpty(t, info.State.PeerCertificates)
	assert.Equal(t, "localhost", info.State.PeerCertificates[0].DNSNames[0])
	assert.Equal(t, "tls", NewClientCredentials(nil).Info().SecurityProtocol)
}

func TestWrongCARefused(t *testing.T) {
	e := newEnv(t)
	addr := serve(t, NewServerCredentials(e.serverConfig(t, false)))
	c := dial(t, addr, NewClientCredentials(e.clientConfig(t, e.otherCA.PEM, nil)))
	_, err := unary(t, c)
	require.Error(t, err)
	assert.Equal(t, codes.Unavailable, status.Code(err))
	assert.Contains(t, err.Error(), "UnknownIssuer", "the rustls error reaches the caller")
}

func TestMTLSWithoutClientCertRefused(t *testing.T) {
	e := newEnv(t)
	addr := serve(t, NewServerCredentials(e.serverConfig(t, true)))
	c := dial(t, addr, NewClientCredentials(e.clientConfig(t, e.ca.PEM, nil)))
	_, err := unary(t, c)
	require.Error(t, err)
	assert.Equal(t, codes.Unavailable, status.Code(err))
}

func TestConfigWithoutH2(t *testing.T) {
	e := newEnv(t)
	addr := serve(t, NewServerCredentials(e.serverConfig(t, false)))
	c := dial(t, addr, NewClientCredentials(e.clientConfig(t, e.ca.PEM, nil, "http/1.1")))
	_, err := unary(t, c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ClientConfig does not offer ALPN")

	// A server config without h2: the handshake fails with a clear error
	// on the server, and the client cannot connect.
	noH2, err := rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{key(t, e.srv)}})
	require.NoError(t, err)
	defer noH2.Close()
	a, b := net.Pipe()
	defer b.Close()
	_, _, err = NewServerCredentials(noH2).ServerHandshake(a)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `ServerConfig does not offer ALPN "h2"`)
}

func TestOverrideServerNameAndClone(t *testing.T) {
	e := newEnv(t)
	addr := serve(t, NewServerCredentials(e.serverConfig(t, false)))
	// 127.0.0.1 is in the certificate; "localhost" is too. A name that is
	// not fails verification, and a clone keeps its own override.
	creds := NewClientCredentials(e.clientConfig(t, e.ca.PEM, nil))
	require.NoError(t, creds.OverrideServerName("wrong.example"))
	clone := creds.Clone().(*Credentials)
	require.NoError(t, clone.OverrideServerName("localhost"))
	assert.Equal(t, "wrong.example", creds.Info().ServerName) //lint:ignore SA1019 the deprecated field is what this checks
	assert.Equal(t, "localhost", clone.Info().ServerName)     //lint:ignore SA1019 the deprecated field is what this checks

	_, err := unary(t, dial(t, addr, creds))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "NotValidForName")
	_, err = unary(t, dial(t, addr, clone))
	require.NoError(t, err)

	// grpc's recommended way: the channel's authority is the name checked.
	plain := NewClientCredentials(e.clientConfig(t, e.ca.PEM, nil))
	_, err = unary(t, dial(t, addr, plain, grpc.WithAuthority("localhost")))
	require.NoError(t, err)
	_, err = unary(t, dial(t, addr, plain, grpc.WithAuthority("elsewhere.example:443")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "NotValidForName")
}

func TestManyConcurrentStreams(t *testing.T) {
	e := newEnv(t)
	addr := serve(t, NewServerCredentials(e.serverConfig(t, true)))
	c := dial(t, addr, NewClientCredentials(e.clientConfig(t, e.ca.PEM, e.alice)))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				errs <- duplex(t, c, 25)
				return
			}
			_, err := unary(t, c)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestClientConfigRotation: connections made after SetClientConfig use
// the new client certificate; the connection grpc already has keeps the
// old one and keeps working.
func TestClientConfigRotation(t *testing.T) {
	e := newEnv(t)
	addr := serve(t, NewServerCredentials(e.serverConfig(t, true)))
	creds := NewClientCredentials(e.clientConfig(t, e.ca.PEM, e.alice))
	c1 := dial(t, addr, creds)
	who, err := unary(t, c1)
	require.NoError(t, err)
	assert.Equal(t, "alice", who)

	creds.SetClientConfig(e.clientConfig(t, e.ca.PEM, e.bob))
	c2 := dial(t, addr, creds)
	who, err = unary(t, c2)
	require.NoError(t, err)
	assert.Equal(t, "bob", who, "a new connection uses the new config")
	who, err = unary(t, c1)
	require.NoError(t, err)
	assert.Equal(t, "alice", who, "the existing connection keeps its handshake")
}

func TestSPIFFEID(t *testing.T) {
	u := func(s string) *url.URL { p, err := url.Parse(s); require.NoError(t, err); return p }
	assert.Equal(t, "spiffe://example.org/workload", spiffeID([]*url.URL{u("https://x"), u("spiffe://example.org/workload")}).String())
	assert.Nil(t, spiffeID([]*url.URL{u("spiffe://a/x"), u("spiffe://b/y")}), "two SPIFFE IDs: none")
	assert.Nil(t, spiffeID(nil))
}
