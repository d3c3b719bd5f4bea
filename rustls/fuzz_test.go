package rustls

import (
	"context"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Fuzz targets: bytes from the network side fed to a server, a client and
// the ClientHello path, over net.Pipe (both ends in this process). Each
// input is bounded by fuzzTimeout; the targets check that nothing panics,
// hangs or leaks (goroutines are counted per input), and that failures are
// *Error values.

const fuzzTimeout = time.Second

// fuzzPeer plays the network side of conn: it writes data, then closes,
// while draining whatever the side under test sends. It returns a func
// that waits for it.
func fuzzPeer(conn net.Conn, data []byte) func() {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(io.Discard, conn)
	}()
	go func() {
		defer wg.Done()
		_ = conn.SetWriteDeadline(time.Now().Add(2 * fuzzTimeout))
		_, _ = conn.Write(data)
		// Half-close is not possible on net.Pipe: closing ends the read
		// side too, which is what a peer that hangs up does.
		_ = conn.Close()
	}()
	return wg.Wait
}

// checkFuzzErr fails on errors that are not *Error (or a refusal).
func checkFuzzErr(t *testing.T, err error) {
	if err == nil {
		return
	}
	switch err.(type) {
	case *Error, *RefuseError:
	default:
		t.Fatalf("untyped error %T: %v", err, err)
	}
}

// withGoroutineCheck runs fn and fails if goroutines it started are still
// running shortly after.
func withGoroutineCheck(t *testing.T, fn func()) {
	before := runtime.NumGoroutine()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(10 * fuzzTimeout):
		buf := make([]byte, 1<<20)
		t.Fatalf("input hung for %v\n%s", 10*fuzzTimeout, buf[:runtime.Stack(buf, true)])
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines leaked: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

func FuzzServerAccept(f *testing.F) {
	scfg := serverConfig(f, func(o *ServerOptions) { o.NextProtos = []string{"h2", "http/1.1"} })
	acc := NewAcceptor(scfg, StreamOptions{})
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		withGoroutineCheck(t, func() {
			client, server := net.Pipe()
			wait := fuzzPeer(client, data)
			ctx, cancel := context.WithTimeout(context.Background(), fuzzTimeout)
			s, err := acc.Accept(ctx, server)
			cancel()
			checkFuzzErr(t, err)
			if err == nil {
				// A handshake cannot complete without our Finished being
				// checked, but whatever happens the stream must close.
				_ = s.Close()
			}
			_ = server.Close()
			wait()
		})
	})
}

func FuzzClientConnect(f *testing.F) {
	ccfg := clientConfig(f, func(o *ClientOptions) { o.NextProtos = []string{"h2"} })
	conn := NewConnector(ccfg, StreamOptions{})
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		withGoroutineCheck(t, func() {
			client, server := net.Pipe()
			wait := fuzzPeer(server, data)
			ctx, cancel := context.WithTimeout(context.Background(), fuzzTimeout)
			s, err := conn.Connect(ctx, client, "localhost")
			cancel()
			checkFuzzErr(t, err)
			if err == nil {
				_ = s.Close()
			}
			_ = client.Close()
			wait()
		})
	})
}

func FuzzClientHello(f *testing.F) {
	scfg := serverConfig(f, nil)
	lazy := &LazyAcceptor{Choose: func(h *ClientHello) (*ServerConfig, error) {
		// Refuse some names, as an SNI router does.
		if len(h.ServerName)%2 == 1 {
			return nil, &RefuseError{Alert: AlertUnrecognizedName, Reason: "fuzz"}
		}
		return scfg, nil
	}}
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		withGoroutineCheck(t, func() {
			// ReadClientHello alone, then abandoned.
			client, server := net.Pipe()
			wait := fuzzPeer(client, data)
			ctx, cancel := context.WithTimeout(context.Background(), fuzzTimeout)
			h, err := ReadClientHello(ctx, server)
			checkFuzzErr(t, err)
			if err == nil {
				_ = h.ClientHello()
				h.Abandon()
			}
			cancel()
			_ = server.Close()
			wait()

			// The whole LazyAcceptor path.
			client, server = net.Pipe()
			wait = fuzzPeer(client, data)
			ctx, cancel = context.WithTimeout(context.Background(), fuzzTimeout)
			s, err := lazy.Accept(ctx, server)
			cancel()
			checkFuzzErr(t, err)
			if err == nil {
				_ = s.Close()
			}
			_ = server.Close()
			wait()
		})
	})
}

// addSeeds adds in-memory seeds beyond the committed corpus in
// testdata/fuzz: tiny and degenerate records.
func addSeeds(f *testing.F) {
	for _, s := range [][]byte{
		nil,
		{0x16},
		{0x16, 0x03, 0x01},
		{0x16, 0x03, 0x01, 0x00, 0x00},       // empty handshake record
		{0x16, 0x03, 0x03, 0xff, 0xff},       // record longer than allowed
		{0x17, 0x03, 0x03, 0x00, 0x01, 0x00}, // application data first
		{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28},         // fatal alert first
		{0x14, 0x03, 0x03, 0x00, 0x01, 0x01},               // ChangeCipherSpec first
		{0x80, 0x2e, 0x01, 0x03, 0x01},                     // SSLv2-style hello
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),        // plaintext HTTP
		[]byte("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"), // truncated ClientHello body
	} {
		f.Add(s)
	}
}
