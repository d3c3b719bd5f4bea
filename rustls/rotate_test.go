package rustls

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rotationPKI is an mTLS server that answers every connection with the
// serial number of the client certificate it verified, then echoes lines;
// and client configs, each with its own client certificate.
type rotationPKI struct {
	ca   *testCA
	addr string
	mu   sync.Mutex
}

func newRotationPKI(t *testing.T) *rotationPKI {
	t.Helper()
	ca := newTestCA(t, "rotation CA")
	srv := ca.leaf(t, leafOpts{}, "localhost")
	scfg, err := NewServerConfig(ServerOptions{
		Certificates: []*CertifiedKey{srv.certifiedKey(t)},
		ClientAuth:   RequireAndVerifyClientCert,
		ClientCAs:    ca.certPEM,
	})
	require.NoError(t, err)
	t.Cleanup(func() { scfg.Close() })
	ln, err := Listen("tcp", "127.0.0.1:0", scfg, StreamOptions{WriteThrough: true})
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			s, err := ln.AcceptStream()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer s.Close()
				if s.HandshakeContext(testCtx(t)) != nil {
					return
				}
				fmt.Fprintf(s, "%s\n", s.ConnectionState().PeerCertificates[0].SerialNumber)
				r := bufio.NewReader(s)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := s.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return &rotationPKI{ca: ca, addr: ln.Addr().String()}
}

// clientConfig returns a config with a new client certificate and that
// certificate's serial number.
func (p *rotationPKI) clientConfig(t *testing.T) (*ClientConfig, string) {
	t.Helper()
	p.mu.Lock()
	leaf := p.ca.leaf(t, leafOpts{client: true})
	p.mu.Unlock()
	k, err := NewCertifiedKey(leaf.certPEM, leaf.keyPEM)
	require.NoError(t, err)
	defer k.Close()
	cfg, err := NewClientConfig(ClientOptions{RootCAs: p.ca.certPEM, Certificate: k})
	require.NoError(t, err)
	t.Cleanup(func() { cfg.Close() })
	return cfg, leaf.cert.SerialNumber.String()
}

// serial reads the serial number the server saw on a new connection.
func serial(t *testing.T, c net.Conn) (string, *bufio.Reader) {
	t.Helper()
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSpace(line), r
}

func roundTripLine(t *testing.T, c net.Conn, r *bufio.Reader, msg string) {
	t.Helper()
	_, err := c.Write([]byte(msg + "\n"))
	require.NoError(t, err)
	got, err := r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, msg+"\n", got)
}

func TestConnectorSetConfigRotatesClientCertificate(t *testing.T) {
	p := newRotationPKI(t)
	oldCfg, oldSerial := p.clientConfig(t)
	newCfg, newSerial := p.clientConfig(t)
	c := NewConnector(oldCfg, StreamOptions{WriteThrough: true})
	connect := func() *Stream {
		raw, err := net.Dial("tcp", p.addr)
		require.NoError(t, err)
		s, err := c.Connect(testCtx(t), raw, "localhost")
		require.NoError(t, err)
		return s
	}
	before := connect()
	defer before.Close()
	got, beforeR := serial(t, before)
	assert.Equal(t, oldSerial, got)

	c.SetConfig(newCfg)
	assert.Same(t, newCfg, c.Config())
	// Closing the old config does not disturb the connection made with it.
	require.NoError(t, oldCfg.Close())
	roundTripLine(t, before, beforeR, "still here")

	after := connect()
	defer after.Close()
	got, afterR := serial(t, after)
	assert.Equal(t, newSerial, got, "a new connection presents the new certificate")
	roundTripLine(t, after, afterR, "new")
	roundTripLine(t, before, beforeR, "old")

	c.SetConfig(nil)
	raw, err := net.Dial("tcp", p.addr)
	require.NoError(t, err)
	_, err = c.Connect(testCtx(t), raw, "localhost")
	assert.ErrorIs(t, err, ErrInvalidInput)
}

func TestDialerSetConfigRotatesClientCertificate(t *testing.T) {
	p := newRotationPKI(t)
	oldCfg, oldSerial := p.clientConfig(t)
	newCfg, newSerial := p.clientConfig(t)
	d := &Dialer{Config: oldCfg, ServerName: "localhost"}
	assert.Same(t, oldCfg, d.CurrentConfig())
	before, err := d.DialStream(testCtx(t), "tcp", p.addr)
	require.NoError(t, err)
	defer before.Close()
	got, beforeR := serial(t, before)
	assert.Equal(t, oldSerial, got)

	d.SetConfig(newCfg)
	assert.Same(t, newCfg, d.CurrentConfig())
	assert.Same(t, oldCfg, d.Config, "SetConfig leaves the field alone")
	require.NoError(t, oldCfg.Close())
	after, err := d.DialStream(testCtx(t), "tcp", p.addr)
	require.NoError(t, err)
	defer after.Close()
	got, afterR := serial(t, after)
	assert.Equal(t, newSerial, got)
	roundTripLine(t, before, beforeR, "old")
	roundTripLine(t, after, afterR, "new")

	d.SetConfig(nil)
	_, err = d.DialStream(testCtx(t), "tcp", p.addr)
	assert.ErrorIs(t, err, ErrInvalidInput)
}

// Rotations (each closing the config it replaces at once) race with many
// dials: every dial succeeds with one of the configs, and connections
// made before a rotation keep working after it.
func TestDialerAndConnectorRotationUnderLoad(t *testing.T) {
	p := newRotationPKI(t)
	const configs = 6
	cfgs := make([]*ClientConfig, configs)
	serials := make([]string, configs)
	for i := range cfgs {
		cfgs[i], serials[i] = p.clientConfig(t)
	}
	d := &Dialer{Config: cfgs[0], ServerName: "localhost"}
	c := NewConnector(cfgs[0], StreamOptions{WriteThrough: true})

	var (
		wg      sync.WaitGroup
		stop    atomic.Bool
		dials   atomic.Int32
		mu      sync.Mutex
		seen    = map[string]int{}
		firstMu sync.Mutex
		first   []*Stream // one early connection per worker, used after every rotation
	)
	worker := func(viaDialer bool) {
		defer wg.Done()
		kept := false
		for !stop.Load() {
			var s *Stream
			var err error
			if viaDialer {
				s, err = d.DialStream(testCtx(t), "tcp", p.addr)
			} else {
				var raw net.Conn
				if raw, err = net.Dial("tcp", p.addr); err == nil {
					s, err = c.Connect(testCtx(t), raw, "localhost")
				}
			}
			if !assert.NoError(t, err) {
				return
			}
			dials.Add(1)
			got, r := serial(t, s)
			roundTripLine(t, s, r, "x")
			mu.Lock()
			seen[got]++
			mu.Unlock()
			if !kept {
				kept = true
				firstMu.Lock()
				first = append(first, s)
				firstMu.Unlock()
				continue
			}
			s.Close()
		}
	}
	for i := range 8 {
		wg.Add(1)
		go worker(i%2 == 0)
	}
	deadline := time.Now().Add(time.Minute)
	for i := 1; i < configs; i++ {
		for dials.Load() < int32(10*i) && !t.Failed() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		d.SetConfig(cfgs[i])
		c.SetConfig(cfgs[i])
		require.NoError(t, cfgs[i-1].Close())
	}
	for dials.Load() < int32(10*configs) && !t.Failed() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	for s := range seen {
		assert.Contains(t, serials, s, "unexpected client certificate")
	}
	assert.Positive(t, seen[serials[0]], "the first config was used")
	assert.Positive(t, seen[serials[configs-1]], "the last config was used")
	for _, s := range first {
		roundTripLine(t, s, bufio.NewReader(s), "after every rotation")
		s.Close()
	}
}

// A connection that took the old config just before a rotation closed it
// moves on to the new config instead of failing.
func TestClientStreamMovesOnFromConfigClosedByRotation(t *testing.T) {
	p := newRotationPKI(t)
	oldCfg, _ := p.clientConfig(t)
	newCfg, newSerial := p.clientConfig(t)
	require.NoError(t, oldCfg.Close())
	loads := 0
	current := func() *ClientConfig {
		loads++
		if loads == 1 {
			return oldCfg // loaded before the rotation
		}
		return newCfg
	}
	raw, err := net.Dial("tcp", p.addr)
	require.NoError(t, err)
	s, err := handshakeClient(testCtx(t), current, StreamOptions{WriteThrough: true}, raw, "localhost")
	require.NoError(t, err)
	defer s.Close()
	got, _ := serial(t, s)
	assert.Equal(t, newSerial, got)

	// Without a rotation, a closed config is an error.
	raw, err = net.Dial("tcp", p.addr)
	require.NoError(t, err)
	defer raw.Close()
	_, err = NewConnector(oldCfg, StreamOptions{}).Connect(testCtx(t), raw, "localhost")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "closed")
}
