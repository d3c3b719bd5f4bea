package rustls

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorustls/gorustls/cgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigCloseIdempotent(t *testing.T) {
	scfg := serverConfig(t, nil)
	ccfg := clientConfig(t, nil)
	for i := 0; i < 3; i++ {
		assert.NoError(t, scfg.Close())
		assert.NoError(t, ccfg.Close())
	}
	p, err := DefaultProvider()
	require.NoError(t, err)
	assert.NoError(t, p.Close())
	assert.NoError(t, p.Close())
}

// TestConfigStreamsOutliveClose: streams made before Close keep working,
// including streams whose handshake has not run yet.
func TestConfigStreamsOutliveClose(t *testing.T) {
	scfg := serverConfig(t, nil)
	ccfg := clientConfig(t, nil)
	c, s := mustPair(t, scfg, ccfg)

	// Streams made, but not yet handshaken, before Close.
	cc, sc := tcpPair(t)
	lateC, err := NewConnector(ccfg, StreamOptions{WriteThrough: true}).Client(cc, "localhost")
	require.NoError(t, err)
	defer lateC.Close()
	lateS, err := NewAcceptor(scfg, StreamOptions{WriteThrough: true}).Server(sc)
	require.NoError(t, err)
	defer lateS.Close()

	require.NoError(t, scfg.Close())
	require.NoError(t, ccfg.Close())

	pingPong(t, c, s)
	errc := make(chan error, 1)
	go func() { errc <- lateS.HandshakeContext(testCtx(t)) }()
	require.NoError(t, lateC.HandshakeContext(testCtx(t)))
	require.NoError(t, <-errc)
	pingPong(t, lateC, lateS)
	require.NoError(t, c.Close())
	_, err = s.Read(make([]byte, 1))
	assert.Equal(t, io.EOF, err)
}

// TestConfigNewStreamsAfterClose: a closed config refuses new streams with
// an error that says so, and closes the transport (Accept/Connect) or
// leaves it open (the fallible variants).
func TestConfigNewStreamsAfterClose(t *testing.T) {
	scfg := serverConfig(t, nil)
	ccfg := clientConfig(t, nil)
	require.NoError(t, scfg.Close())
	require.NoError(t, ccfg.Close())

	cc, sc := tcpPair(t)
	defer cc.Close()
	defer sc.Close()
	_, err := NewConnector(ccfg, StreamOptions{}).ConnectFallible(testCtx(t), cc, "localhost")
	requireCode(t, err, CodeInvalidParameter)
	assert.ErrorIs(t, err, ErrInvalidInput)
	assert.Contains(t, err.Error(), "config is closed")
	_, err = NewAcceptor(scfg, StreamOptions{}).AcceptFallible(testCtx(t), sc)
	assert.ErrorIs(t, err, ErrInvalidInput)
	assert.Contains(t, err.Error(), "config is closed")
	// The fallible variants leave the transport usable.
	_, err = cc.Write([]byte("x"))
	require.NoError(t, err)
	b := make([]byte, 1)
	_, err = io.ReadFull(sc, b)
	require.NoError(t, err)

	_, err = NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), cc, "localhost")
	assert.Contains(t, err.Error(), "config is closed")
	_, err = cc.Write([]byte("x"))
	assert.Error(t, err, "Connect closes the transport on failure")
}

// TestConfigConcurrentUse drives one server and one client config from many
// goroutines at once (meant for -race), while other goroutines build and
// close configs.
func TestConfigConcurrentUse(t *testing.T) {
	_, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	rec := &lineRecorder{}
	scfg := serverConfig(t, func(o *ServerOptions) { o.KeyLogWriter = rec; o.NextProtos = []string{"x"} })
	ccfg := clientConfig(t, func(o *ClientOptions) { o.NextProtos = []string{"x"} })
	caPEM := sharedCAPEM(t)

	const workers, perWorker = 8, 6
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker+workers)
	for w := 0; w < workers; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				if err := exchangeOnce(scfg, ccfg); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				sc, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{key}, KeyLogWriter: io.Discard})
				if err != nil {
					errs <- err
					return
				}
				cc, err := NewClientConfig(ClientOptions{RootCAs: caPEM, KeyLogWriter: io.Discard})
				if err != nil {
					errs <- err
					return
				}
				sc.Close()
				cc.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, workers*perWorker, labels(rec.lines())["CLIENT_TRAFFIC_SECRET_0"], "every connection logged once, through the shared config")
}

// exchangeOnce connects a client and a server over loopback and checks one
// round trip, reporting failures as errors (for use off the test goroutine).
func exchangeOnce(scfg *ServerConfig, ccfg *ClientConfig) error {
	ln, err := listenLoopback()
	if err != nil {
		return err
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srvErr := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		s, err := NewAcceptor(scfg, StreamOptions{WriteThrough: true}).Accept(ctx, conn)
		if err != nil {
			srvErr <- err
			return
		}
		defer s.Close()
		buf := make([]byte, 5)
		if _, err := io.ReadFull(s, buf); err != nil {
			srvErr <- err
			return
		}
		_, err = s.Write(buf)
		srvErr <- err
	}()
	conn, err := dialLoopback(ln)
	if err != nil {
		return err
	}
	c, err := NewConnector(ccfg, StreamOptions{WriteThrough: true}).Connect(ctx, conn, "localhost")
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	if c.ConnectionState().NegotiatedProtocol != "x" {
		return fmt.Errorf("ALPN %q", c.ConnectionState().NegotiatedProtocol)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "hello" {
		return fmt.Errorf("echo %q", buf)
	}
	return <-srvErr
}

// TestConfigCleanup: configs dropped without Close are released by their
// cleanup: the C config is freed and the key-log slot given back. The test
// keeps only the configs' lifetime records, which the cleanups update.
func TestConfigCleanup(t *testing.T) {
	_, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	caPEM := sharedCAPEM(t)
	var lives []*configLife
	func() {
		for i := 0; i < 20; i++ {
			sc, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{key}, KeyLogWriter: io.Discard})
			require.NoError(t, err)
			cc, err := NewClientConfig(ClientOptions{RootCAs: caPEM, KeyLogWriter: io.Discard})
			require.NoError(t, err)
			// Held while the configs are reachable (checked before they
			// are dropped: a GC may run their cleanups at any time after).
			require.True(t, slotHeld(sc.life))
			require.True(t, slotHeld(cc.life))
			runtime.KeepAlive(sc)
			runtime.KeepAlive(cc)
			lives = append(lives, sc.life, cc.life)
		}
	}()
	require.Eventually(t, func() bool {
		runtime.GC()
		for _, l := range lives {
			if slotHeld(l) || !lifeClosed(l) {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "unreferenced configs are closed and give their slots back")

	t.Run("a dropped config with a live stream", func(t *testing.T) {
		rec := &lineRecorder{}
		ccfg := clientConfig(t, nil)
		var c, s *Stream
		var life *configLife
		func() {
			scfg, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{key}, KeyLogWriter: rec})
			require.NoError(t, err)
			life = scfg.life
			c, s = mustPair(t, scfg, ccfg)
		}()
		require.Eventually(t, func() bool { runtime.GC(); return lifeClosed(life) }, 10*time.Second, 10*time.Millisecond,
			"the config is collected although its stream lives")
		// The stream still works, and still holds the slot.
		pingPong(t, c, s)
		assert.True(t, slotHeld(life))
		require.NoError(t, s.Close())
		assert.False(t, slotHeld(life), "given back with the last stream")
	})
}

func lifeClosed(l *configLife) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// TestConfigLifeRelease checks the release order configLife promises: the
// C config is freed at close, the key-log slot once the last stream is
// gone, each exactly once.
func TestConfigLifeRelease(t *testing.T) {
	slot, ok := cgo.AcquireKeylogSlot(func(string, []byte, []byte) {})
	require.True(t, ok)
	frees := 0
	l := newConfigLife(func() { frees++ }, slot)
	require.NoError(t, l.acquire(func() error { return nil }))
	require.NoError(t, l.acquire(func() error { return nil }))
	assert.Error(t, l.acquire(func() error { return fmt.Errorf("boom") }), "a failed start counts no stream")
	l.close()
	assert.Equal(t, 1, frees)
	assert.True(t, slotHeld(l), "streams remain")
	l.release()
	assert.True(t, slotHeld(l))
	l.release()
	assert.False(t, slotHeld(l))
	l.close()
	assert.Equal(t, 1, frees)
	err := l.acquire(func() error { t.Fatal("must not run on a closed config"); return nil })
	assert.True(t, strings.Contains(err.Error(), "closed"))
	// The slot is free again: it can be taken once more.
	again, ok := cgo.AcquireKeylogSlot(func(string, []byte, []byte) {})
	require.True(t, ok)
	cgo.ReleaseKeylogSlot(again)
}

func TestVersionAndCipherSuites(t *testing.T) {
	v := Version()
	assert.Contains(t, v, "rustls-ffi/0.15.7")
	assert.Contains(t, v, "/rustls/0.23.")
	assert.Contains(t, v, BuildProvider())
	maj, min, patch := HeaderVersion()
	assert.Equal(t, [3]int{0, 15, 7}, [3]int{maj, min, patch})

	suites, err := CipherSuites()
	require.NoError(t, err)
	require.NotEmpty(t, suites)
	byName := map[string]CipherSuite{}
	for _, s := range suites {
		byName[s.Name] = s
		assert.Contains(t, []uint16{VersionTLS12, VersionTLS13}, s.Version, "suite %s", s.Name)
		assert.NotZero(t, s.ID)
	}
	aes := byName["TLS13_AES_128_GCM_SHA256"]
	assert.Equal(t, uint16(0x1301), aes.ID)
	assert.Equal(t, uint16(VersionTLS13), aes.Version)
	assert.Equal(t, uint16(VersionTLS12), byName["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"].Version)

	p, err := DefaultProvider()
	require.NoError(t, err)
	defer p.Close()
	assert.Equal(t, suites, p.CipherSuites())
	assert.False(t, p.FIPS(), "the default build is not FIPS")

	_, err = p.WithCipherSuites()
	requireCode(t, err, CodeInvalidParameter)
	_, err = p.WithCipherSuites(0x1301, 0xabcd)
	e := requireCode(t, err, CodeNotFound)
	assert.Contains(t, e.Error(), "0xabcd")
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func dialLoopback(ln net.Listener) (net.Conn, error) { return net.Dial("tcp", ln.Addr().String()) }

// TestConfigImmutable: changing the options after the build changes nothing.
func TestConfigImmutable(t *testing.T) {
	ca, srv, _ := pki(t)
	sProtos := []string{"a", "b"}
	cProtos := []string{"b"}
	roots := append([]byte(nil), ca.certPEM...)
	so := ServerOptions{Certificates: []*CertifiedKey{srv.certifiedKey(t)}, NextProtos: sProtos}
	co := ClientOptions{RootCAs: roots, NextProtos: cProtos}
	scfg, err := NewServerConfig(so)
	require.NoError(t, err)
	defer scfg.Close()
	ccfg, err := NewClientConfig(co)
	require.NoError(t, err)
	defer ccfg.Close()

	sProtos[1], cProtos[0] = "z", "z"
	for i := range roots {
		roots[i] = 0
	}
	so.Certificates[0] = nil
	c, s := mustPair(t, scfg, ccfg)
	assert.Equal(t, "b", c.ConnectionState().NegotiatedProtocol)
	assert.Equal(t, "b", s.ConnectionState().NegotiatedProtocol)
	assert.Equal(t, []string{"a", "b"}, scfg.NextProtos())
	assert.Equal(t, []string{"b"}, ccfg.NextProtos())
}
