package rustlshttp

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A request to an internationalised host name goes out as its punycode
// (A-label) form: that is what is sent as SNI and checked against the
// certificate, as net/http does with crypto/tls.
func TestTransportInternationalisedHostName(t *testing.T) {
	const unicode, ascii = "bücher.test", "xn--bcher-kva.test"
	p := newPKI(t)
	certPEM, keyPEM := p.leaf(t, ascii)
	k, err := rustls.NewCertifiedKey(certPEM, keyPEM)
	require.NoError(t, err)
	defer k.Close()
	for _, protos := range [][]string{{"h2", "http/1.1"}, {"http/1.1"}} {
		cfg, err := rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{k}, NextProtos: protos})
		require.NoError(t, err)
		defer cfg.Close()
		_, url := startServer(t, &Server{Config: cfg, Handler: infoHandler})
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(url, "https://"))

		tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
		var dialed []string
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialed = append(dialed, addr)
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
		}
		c := &http.Client{Transport: tr}
		for range 2 {
			resp, body := get(t, c, "https://"+unicode+":"+port+"/", "")
			assert.Equal(t, protos[0], resp.TLS.NegotiatedProtocol)
			assert.Contains(t, body, " "+ascii+" ", "the server saw the A-label as SNI")
		}
		tr.CloseIdleConnections()
		assert.Equal(t, []string{ascii + ":" + port}, dialed, "one connection, dialed by its A-label")

		// A name that IDNA refuses is an error, not a dial.
		_, err = c.Get("https://" + "a\u200db.test" + ":" + port + "/")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "internationalised")
		assert.Len(t, dialed, 1)

		// Transport.ServerName in Unicode is converted too.
		tr2 := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
		tr2.ServerName = unicode
		_, body := get(t, &http.Client{Transport: tr2}, "https://127.0.0.1:"+port+"/", "")
		assert.Contains(t, body, " "+ascii+" ")
		tr2.CloseIdleConnections()
	}
}
