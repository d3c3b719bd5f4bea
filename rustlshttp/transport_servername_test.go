package rustlshttp

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serverConfigFor is a server config with a certificate for names.
func (p *testPKI) serverConfigFor(t *testing.T, names ...string) *rustls.ServerConfig {
	t.Helper()
	certPEM, keyPEM := p.leaf(t, names...)
	k, err := rustls.NewCertifiedKey(certPEM, keyPEM)
	require.NoError(t, err)
	defer k.Close()
	cfg, err := rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{k}, NextProtos: []string{"h2", "http/1.1"}})
	require.NoError(t, err)
	t.Cleanup(func() { cfg.Close() })
	return cfg
}

// Transport.ServerName applies to every host, as TLSClientConfig.ServerName
// does in net/http: a redirect target on another host is sent the pinned
// name and must present a certificate for it, not for its own host.
func TestTransportServerNameAppliesToRedirectTargets(t *testing.T) {
	p := newPKI(t)
	sni := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "SNI ", r.TLS.ServerName) })
	_, both := startServer(t, &Server{Config: p.serverConfigFor(t, "pinned.test", "localhost"), Handler: sni})
	_, own := startServer(t, &Server{Config: p.serverConfigFor(t, "localhost"), Handler: sni})
	_, origin := startServer(t, &Server{Config: p.serverConfigFor(t, "pinned.test"), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, map[string]string{"/both": both, "/own": own}[r.URL.Path]+"/", http.StatusFound)
	})})
	origin = strings.Replace(origin, "localhost", "127.0.0.1", 1)
	for _, alpn := range [][]string{{"h2", "http/1.1"}, {"http/1.1"}} {
		tr := NewTransport(p.clientConfig(t, alpn...))
		tr.ServerName = "pinned.test"
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		resp, body := get(t, c, origin+"/both", "")
		assert.Equal(t, "SNI pinned.test", body, "%v", alpn)
		assert.Equal(t, both+"/", resp.Request.URL.String(), "%v", alpn)
		_, err := c.Get(origin + "/own")
		require.Error(t, err, "%v", alpn)
		assert.Contains(t, err.Error(), "certificate", "%v", alpn)
		tr.CloseIdleConnections()
	}
}
