package rustls

import (
	"errors"
	"hash/crc32"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// duplexBytes is the size sent each way by TestStreamFullDuplex. 1 GiB
// takes about 4 s here, and 6-15 s under the race detector (the data path
// is mostly C and system calls), so the race run keeps the full size.
const duplexBytes = 1 << 30

// sendAll writes total bytes of a repeating pseudo-random block in chunks
// of varying size, flushing now and then, and returns their checksum.
func sendAll(s *Stream, total int64) (uint32, error) {
	block := pattern(1<<20+13, byte(total))
	var sum uint32
	sizes := []int{16 << 10, 100, 64 << 10, 1, 300 << 10, 5000}
	for sent, i := int64(0), 0; sent < total; i++ {
		n := int64(sizes[i%len(sizes)])
		n = min(n, total-sent)
		off := int(sent % int64(len(block)-len(sizes)))
		off = min(off, len(block)-int(n))
		p := block[off : off+int(n)]
		if _, err := s.Write(p); err != nil {
			return sum, err
		}
		sum = crc32.Update(sum, castagnoli, p)
		sent += n
		if i%7 == 0 {
			if err := s.Flush(); err != nil {
				return sum, err
			}
		}
	}
	return sum, s.Flush()
}

// recvAll reads exactly total bytes and returns their checksum.
func recvAll(s *Stream, total int64) (uint32, error) {
	buf := make([]byte, 40<<10)
	var sum uint32
	for got := int64(0); got < total; {
		n, err := s.Read(buf[:min(int64(len(buf)), total-got)])
		sum = crc32.Update(sum, castagnoli, buf[:n])
		got += int64(n)
		if err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// TestStreamFullDuplex moves duplexBytes in each direction at once over
// one stream, with checksums.
func TestStreamFullDuplex(t *testing.T) {
	total := int64(duplexBytes)
	if testing.Short() {
		total = 64 << 20
	}
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
	start := time.Now()
	type result struct {
		sum uint32
		err error
	}
	run := func(f func(*Stream, int64) (uint32, error), st *Stream) <-chan result {
		ch := make(chan result, 1)
		go func() {
			sum, err := f(st, total)
			ch <- result{sum, err}
		}()
		return ch
	}
	cSent, sSent := run(sendAll, c), run(sendAll, s)
	cGot, sGot := run(recvAll, c), run(recvAll, s)
	a, b, x, y := <-cSent, <-sSent, <-cGot, <-sGot
	for _, r := range []result{a, b, x, y} {
		require.NoError(t, r.err)
	}
	assert.Equal(t, a.sum, y.sum, "client to server")
	assert.Equal(t, b.sum, x.sum, "server to client")
	t.Logf("%d MiB each way in %v", total>>20, time.Since(start))
}

// TestStreamConcurrentUse hammers one stream with concurrent Reads,
// Writes, Flushes, KeyUpdates and finally Close, under the race detector.
func TestStreamConcurrentUse(t *testing.T) {
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
	go io.Copy(io.Discard, s)
	go func() {
		buf := pattern(10<<10, 1)
		for {
			if _, err := s.Write(buf); err != nil {
				return
			}
			if s.Flush() != nil {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	worker := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if f() != nil {
					return
				}
			}
		}()
	}
	msg := pattern(3000, 2)
	for i := 0; i < 3; i++ {
		worker(func() error { _, err := c.Write(msg); return err })
	}
	worker(c.Flush)
	worker(func() error { time.Sleep(time.Millisecond); return c.KeyUpdate() })
	buf := make([]byte, 8000)
	worker(func() error { _, err := c.Read(buf); return err })
	worker(func() error { c.ConnectionState(); c.Buffered(); return nil })
	time.Sleep(300 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked")
	}
	close(stop) // for the workers that never fail
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("workers still blocked after Close\n%s", buf[:runtime.Stack(buf, true)])
	}
	_, err := c.Write(msg)
	assert.ErrorIs(t, err, net.ErrClosed)
}

// TestStreamManyParallel runs many streams at once, each echoing data.
func TestStreamManyParallel(t *testing.T) {
	const streams = 64
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	acc := NewAcceptor(scfg, StreamOptions{})
	con := NewConnector(ccfg, StreamOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	ctx := testCtx(t)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				s, err := acc.Accept(ctx, conn)
				if err != nil {
					return
				}
				defer s.Close()
				io.Copy(s, s) // WriteTo, flushing every chunk back
			}()
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			c, err := con.Connect(ctx, conn, "localhost")
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			data := pattern(256<<10, byte(i))
			go func() {
				c.Write(data)
				c.CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err == nil && crc32.ChecksumIEEE(got) != crc32.ChecksumIEEE(data) {
				err = errors.New("echo differs")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}
