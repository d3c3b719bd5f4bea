package rustls_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/gorustls/gorustls/rustls"
)

// errors.As finds the *Error in what any call returns, and inside it the
// crypto/x509 type code written for crypto/tls looks for. Here a client
// that does not trust the server's CA.
func ExampleError() {
	serverCfg, _ := exampleConfigs()
	defer serverCfg.Close()
	clientCfg := exampleStrangerClientConfig() // trusts only a CA that did not sign the server's certificate
	defer clientCfg.Close()

	ctx, cancel := exampleContext()
	defer cancel()
	cconn, sconn := exampleTCPPair()
	serverErr := make(chan error, 1)
	go func() {
		_, err := rustls.NewAcceptor(serverCfg, rustls.StreamOptions{}).Accept(ctx, sconn)
		serverErr <- err
	}()
	_, err := rustls.NewConnector(clientCfg, rustls.StreamOptions{}).Connect(ctx, cconn, "localhost")

	var e *rustls.Error
	if errors.As(err, &e) {
		fmt.Println("client:", e.Code == rustls.CodeCertUnknownIssuer, e.IsCertificateError(), errors.Is(err, rustls.ErrCertificate))
	}
	var unknown x509.UnknownAuthorityError
	fmt.Println("x509.UnknownAuthorityError:", errors.As(err, &unknown))

	// The server got the client's alert.
	err = <-serverErr
	if errors.As(err, &e) {
		alert, ok := e.Alert()
		fmt.Println("server: alert", alert, ok, errors.Is(err, rustls.ErrAlertReceived))
	}
	// Output:
	// client: true true true
	// x509.UnknownAuthorityError: true
	// server: alert 48 true true
}

// A panicking callback fails only its own handshake: the error wraps a
// *PanicError naming the callback, and the config goes on serving.
func ExamplePanicError() {
	ca, _ := examplePKI()
	serverCfg := exampleServerConfig(ca, "localhost", rustls.ServerOptions{
		VerifyConnection: func(tls.ConnectionState) error {
			panic("authorization backend missing")
		},
	})
	defer serverCfg.Close()
	clientCfg := exampleClientConfig(rustls.ClientOptions{RootCAs: ca.PEM})
	defer clientCfg.Close()

	ctx, cancel := exampleContext()
	defer cancel()
	// The client's reads fail: the server gave up.
	sconn := exampleClient(ctx, rustls.NewConnector(clientCfg, rustls.StreamOptions{}), nil)
	_, err := rustls.NewAcceptor(serverCfg, rustls.StreamOptions{}).Accept(ctx, sconn)
	var pe *rustls.PanicError
	if errors.As(err, &pe) {
		fmt.Println(pe.Callback, "panicked with", pe.Value)
	}
	// Output: VerifyConnection panicked with authorization backend missing
}
