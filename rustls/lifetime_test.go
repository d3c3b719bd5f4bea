package rustls

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rotationRun is how long TestCertificateRotationUnderLoad keeps rotating.
const rotationRun = 3 * time.Second

// TestCertificateRotationUnderLoad is the rotation pattern of issue 10:
// GetCertificate returns cur.Load() while another goroutine swaps in a new
// key and closes the old one, as fast as it can, under many concurrent
// handshakes. Closing a key that a handshake is still handing to rustls
// must not free it (that corrupted the C heap). A handshake whose
// GetCertificate read a key that was closed before the connection took its
// reference fails with an error saying so; every other handshake succeeds.
func TestCertificateRotationUnderLoad(t *testing.T) {
	ca := newTestCA(t, "rotation CA")
	leaves := []*testLeaf{ca.leaf(t, leafOpts{}, "localhost"), ca.leaf(t, leafOpts{}, "localhost"), ca.leaf(t, leafOpts{alg: "ed25519"}, "localhost")}
	var cur atomic.Pointer[CertifiedKey]
	first, err := NewCertifiedKey(leaves[0].certPEM, leaves[0].keyPEM)
	require.NoError(t, err)
	cur.Store(first)
	made := []*CertifiedKey{first} // only the rotating goroutine appends
	scfg, err := NewServerConfig(ServerOptions{GetCertificate: func(*ClientHello) (*CertifiedKey, error) {
		return cur.Load(), nil
	}})
	require.NoError(t, err)
	defer scfg.Close()
	ccfg := clientConfig(t, func(o *ClientOptions) { o.RootCAs = ca.certPEM })

	ctx, cancel := context.WithTimeout(context.Background(), rotationRun)
	defer cancel()
	var wg sync.WaitGroup
	var rotations atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ctx.Err() == nil; i++ {
			l := leaves[i%len(leaves)]
			k, err := NewCertifiedKey(l.certPEM, l.keyPEM)
			if err != nil {
				t.Errorf("new key: %v", err)
				return
			}
			made = append(made, k)
			old := cur.Swap(k)
			old.Close()
			rotations.Add(1)
		}
	}()

	var ok, closedKey atomic.Int64
	var errMu sync.Mutex
	var unexpected []string
	const workers = 8
	for w := 0; w < workers; w++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				sErr, cErr := rotationHandshake(ln, scfg, ccfg)
				switch {
				case sErr == nil && cErr == nil:
					ok.Add(1)
				case sErr != nil && strings.Contains(sErr.Error(), "GetCertificate returned a closed CertifiedKey"):
					closedKey.Add(1)
				default:
					errMu.Lock()
					unexpected = append(unexpected, "server: "+errString(sErr)+"; client: "+errString(cErr))
					errMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	cur.Load().Close()
	t.Logf("%d handshakes, %d refused for a key closed under them, %d rotations", ok.Load(), closedKey.Load(), rotations.Load())
	assert.Empty(t, unexpected)
	assert.Greater(t, ok.Load(), int64(workers))
	assert.Greater(t, rotations.Load(), int64(10))
	// Every rotated key was freed once its last connection was: no
	// reference leaked.
	for i, k := range made {
		require.True(t, k.r.freed(), "key %d of %d still has references", i, len(made))
	}
}

// rotationHandshake runs one handshake pair over ln and closes both ends.
func rotationHandshake(ln net.Listener, scfg *ServerConfig, ccfg *ClientConfig) (sErr, cErr error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ch := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- err
			return
		}
		s, err := NewAcceptor(scfg, StreamOptions{}).Accept(ctx, c)
		if err == nil {
			err = s.Close()
		}
		ch <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return <-ch, err
	}
	s, cErr := NewConnector(ccfg, StreamOptions{}).Connect(ctx, c, "localhost")
	if cErr == nil {
		_ = s.Close()
	}
	return <-ch, cErr
}

// freed reports whether the C object has been freed.
func (r *cref[T]) freed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refs == 0
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestCloseRacesConfigBuilds closes certified keys and providers while
// configs are being built from them and while they are inspected: each
// build either takes its own reference first or fails saying the key or
// provider is closed, and nothing reads freed memory (run with -race and
// -asan).
func TestCloseRacesConfigBuilds(t *testing.T) {
	_, srv, cli := pki(t)
	ca, _, _ := pki(t)
	var keys []*CertifiedKey
	var provs []*Provider
	deadline := time.Now().Add(time.Second)
	built, refused := 0, 0
	for time.Now().Before(deadline) {
		sk, err := NewCertifiedKey(srv.certPEM, srv.keyPEM)
		require.NoError(t, err)
		ck, err := NewCertifiedKey(cli.certPEM, cli.keyPEM)
		require.NoError(t, err)
		prov, err := DefaultProvider()
		require.NoError(t, err)
		keys, provs = append(keys, sk, ck), append(provs, prov)
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { defer wg.Done(); sk.Close() }()
		go func() { defer wg.Done(); ck.Close() }()
		go func() { defer wg.Done(); prov.Close() }()
		_ = prov.CipherSuites()
		_ = prov.FIPS()
		var ids []uint16
		for _, s := range prov.CipherSuites() {
			ids = append(ids, s.ID)
		}
		if p2, err := prov.WithCipherSuites(ids...); err == nil {
			p2.Close()
		}
		scfg, serr := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{sk}, Provider: prov})
		ccfg, cerr := NewClientConfig(ClientOptions{RootCAs: ca.certPEM, Certificate: ck, Provider: prov})
		wg.Wait()
		for _, err := range []error{serr, cerr} {
			if err != nil {
				refused++
				require.ErrorIs(t, err, ErrInvalidInput)
				require.Contains(t, err.Error(), "closed")
			} else {
				built++
			}
		}
		if scfg != nil {
			scfg.Close()
		}
		if ccfg != nil {
			ccfg.Close()
		}
	}
	t.Logf("%d configs built, %d refused a closed input", built, refused)
	for _, k := range keys {
		require.True(t, k.r.freed(), "every key was freed")
	}
	for _, p := range provs {
		require.True(t, p.r.freed(), "every provider was freed")
	}
}

// TestClosedKeyFromGetCertificate: a GetCertificate that returns a closed
// key fails that handshake with an error saying so; the config keeps
// serving.
func TestClosedKeyFromGetCertificate(t *testing.T) {
	_, srv, _ := pki(t)
	closed, err := NewCertifiedKey(srv.certPEM, srv.keyPEM)
	require.NoError(t, err)
	closed.Close()
	good := srv.certifiedKey(t)
	var calls atomic.Int32
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.Certificates = nil
		o.GetCertificate = func(*ClientHello) (*CertifiedKey, error) {
			if calls.Add(1) == 1 {
				return closed, nil
			}
			return good, nil
		}
	})
	ccfg := clientConfig(t, nil)
	c, s := tryPair(t, scfg, ccfg, "localhost")
	require.Error(t, s.err)
	var e *Error
	require.True(t, errors.As(s.err, &e))
	assert.Contains(t, s.err.Error(), "GetCertificate returned a closed CertifiedKey")
	assert.Error(t, c.err)
	mustPair(t, scfg, ccfg)
}

// TestDroppedKeysAreFreed: a CertifiedKey or Provider dropped without Close
// is freed by its cleanup, once the connections and configs that borrowed
// it are gone; the cleanup does not keep the owner reachable.
func TestDroppedKeysAreFreed(t *testing.T) {
	_, srv, _ := pki(t)
	key, err := NewCertifiedKey(srv.certPEM, srv.keyPEM)
	require.NoError(t, err)
	prov, err := DefaultProvider()
	require.NoError(t, err)
	kr, pr := key.r, prov.r
	var get atomic.Pointer[CertifiedKey]
	get.Store(key)
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.Certificates = nil
		o.Provider = prov
		o.GetCertificate = func(*ClientHello) (*CertifiedKey, error) { return get.Load(), nil }
	})
	c, s := mustPair(t, scfg, clientConfig(t, nil))
	key, prov = nil, nil
	get.Store(nil)
	require.False(t, kr.freed(), "the connection holds a reference")
	require.NoError(t, c.Close())
	require.NoError(t, s.Close())
	deadline := time.Now().Add(10 * time.Second)
	for !(kr.freed() && pr.freed()) && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	assert.True(t, kr.freed(), "the dropped key was freed")
	assert.True(t, pr.freed(), "the dropped provider was freed")
}
