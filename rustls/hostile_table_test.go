package rustls

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile input on the wire and at the API that the other bad-input tests
// (badinput_test.go, hostile_test.go, errors_test.go,
// stream_handshake_test.go, stream_io_test.go, servername_test.go) do not
// cover; docs/hostile-input.md lists every case with the test that proves
// it. Each case must end in the documented error, promptly, with every byte
// that arrived before the fault delivered first.

// hostileCase is one bad input. run returns the bytes the victim read
// before its final error (nil when reading is not part of the case) and
// that error; want are the bytes it must have read first.
type hostileCase struct {
	name  string
	run   func(t *testing.T) (got []byte, err error)
	want  []byte
	code  Code    // 0: any
	is    []error // errors.Is targets that must match
	isNot []error // ... and must not
	text  []string
}

// readAllUntilErr reads s until an error, within d.
func readAllUntilErr(s *Stream, d time.Duration) ([]byte, error) {
	_ = s.SetReadDeadline(time.Now().Add(d))
	var got bytes.Buffer
	buf := make([]byte, 16<<10)
	for {
		n, err := s.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			return got.Bytes(), err
		}
	}
}

// peerDataThen has the server send data, then calls fault on the server's
// raw transport; the client reads until its error.
func peerDataThen(data []byte, fault func(raw net.Conn)) func(t *testing.T) ([]byte, error) {
	return func(t *testing.T) ([]byte, error) {
		c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
		_, err := s.Write(data)
		require.NoError(t, err)
		require.NoError(t, s.Flush())
		fault(s.NetConn())
		// Let everything arrive, so that the client's first transport read
		// takes the data and the fault together.
		time.Sleep(50 * time.Millisecond)
		return readAllUntilErr(c, 5*time.Second)
	}
}

// clientDataThen is peerDataThen the other way: the client sends, the
// server reads.
func clientDataThen(data []byte, fault func(raw net.Conn)) func(t *testing.T) ([]byte, error) {
	return func(t *testing.T) ([]byte, error) {
		c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
		_, err := c.Write(data)
		require.NoError(t, err)
		require.NoError(t, c.Flush())
		fault(c.NetConn())
		time.Sleep(50 * time.Millisecond)
		return readAllUntilErr(s, 5*time.Second)
	}
}

// garbageRecord is an application data record no key decrypts.
var garbageRecord = append([]byte{0x17, 0x03, 0x03, 0x00, 0x20}, bytes.Repeat([]byte{0xa5}, 32)...)

func TestHostileInputTable(t *testing.T) {
	data := pattern(40<<10, 9) // three records, well within one transport read
	writeRaw := func(b []byte) func(net.Conn) {
		return func(raw net.Conn) {
			_, err := raw.Write(b)
			require.NoError(t, err)
		}
	}
	cases := []hostileCase{
		{
			name: "garbage record after application data, to the client",
			run:  peerDataThen(data, writeRaw(garbageRecord)),
			want: data, code: CodeDecryptError, is: []error{ErrProtocol},
		},
		{
			name: "garbage record after application data, to the server",
			run:  clientDataThen(data, writeRaw(garbageRecord)),
			want: data, code: CodeDecryptError, is: []error{ErrProtocol},
		},
		{
			name: "plaintext after application data",
			run:  peerDataThen(data, writeRaw([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))),
			want: data, code: CodeMessageInvalidContentType, is: []error{ErrProtocol},
		},
		{
			name: "TCP EOF in the middle of a record, after data",
			run: peerDataThen(data, func(raw net.Conn) {
				_, err := raw.Write(garbageRecord[:20]) // a header promising 32 bytes, and 15 of them
				require.NoError(t, err)
				require.NoError(t, raw.(*net.TCPConn).CloseWrite())
			}),
			want: data, is: []error{io.ErrUnexpectedEOF}, isNot: []error{io.EOF},
		},
		{
			name: "peer resets the connection after data (reader)",
			run:  peerDataThen(data, resetConn),
			want: data, code: CodeIO, is: []error{ErrIO, syscall.ECONNRESET}, isNot: []error{io.EOF, io.ErrUnexpectedEOF},
		},
		{
			name: "server resets after the ClientHello (client handshake)",
			run: func(t *testing.T) ([]byte, error) {
				cc, sc := tcpPair(t)
				go func() {
					hdr := make([]byte, 5)
					if _, err := io.ReadFull(sc, hdr); err == nil {
						_, _ = io.ReadFull(sc, make([]byte, int(hdr[3])<<8|int(hdr[4])))
					}
					resetConn(sc)
				}()
				_, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(testCtx(t), cc, "localhost")
				return nil, err
			},
			code: CodeIO, is: []error{ErrIO, syscall.ECONNRESET}, isNot: []error{io.ErrUnexpectedEOF},
			text: []string{"handshake"},
		},
		{
			name: "client resets after the server's first flight (server handshake)",
			run: func(t *testing.T) ([]byte, error) {
				hello := captureClientHello(t)
				cc, sc := tcpPair(t)
				go func() {
					_, _ = cc.Write(hello)
					// Wait for the server's flight, then reset.
					_, _ = cc.Read(make([]byte, 1))
					time.Sleep(20 * time.Millisecond)
					resetConn(cc)
				}()
				_, err := NewAcceptor(serverConfig(t, nil), StreamOptions{}).Accept(testCtx(t), sc)
				return nil, err
			},
			code: CodeIO, is: []error{ErrIO, syscall.ECONNRESET}, isNot: []error{io.ErrUnexpectedEOF},
			text: []string{"handshake"},
		},
		{
			name: "Dialer with a NUL in ServerName",
			run: func(t *testing.T) ([]byte, error) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				defer ln.Close()
				d := Dialer{Config: clientConfig(t, nil), ServerName: "localhost\x00.evil.example"}
				_, err = d.DialContext(testCtx(t), "tcp", ln.Addr().String())
				return nil, err
			},
			code: CodeInvalidDNSName, is: []error{ErrInvalidInput}, text: []string{`\x00`},
		},
		{
			name: "handshake stalled by the peer, bounded by the context",
			run: func(t *testing.T) ([]byte, error) {
				cc, sc := tcpPair(t)
				defer sc.Close()
				go func() { _, _ = io.Copy(io.Discard, sc) }() // reads the ClientHello, never answers
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				defer cancel()
				_, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(ctx, cc, "localhost")
				return nil, err
			},
			code: CodeIO, is: []error{ErrIO, context.DeadlineExceeded}, text: []string{"handshake"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Every case bounds itself (deadlines, contexts).
			got, err := tc.run(t)
			require.Error(t, err)
			var code Code
			if e, ok := err.(*Error); ok {
				code = e.Code
			}
			t.Logf("after %d bytes: %T (code %d) %v", len(got), err, code, err)
			var e *Error
			require.True(t, errors.As(err, &e) || (len(tc.is) > 0 && tc.is[0] == io.ErrUnexpectedEOF && errors.Is(err, io.ErrUnexpectedEOF)),
				"want an *Error, got %T: %v", err, err)
			if tc.code != 0 {
				require.NotNil(t, e, "want an *Error, got %T: %v", err, err)
				assert.Equal(t, tc.code, e.Code, "code of %v", err)
			}
			for _, target := range tc.is {
				assert.ErrorIs(t, err, target)
			}
			for _, target := range tc.isNot {
				assert.NotErrorIs(t, err, target)
			}
			for _, s := range tc.text {
				assert.Contains(t, err.Error(), s)
			}
			if tc.want != nil {
				assert.Equal(t, len(tc.want), len(got), "bytes delivered before the error (%v)", err)
				assert.True(t, bytes.Equal(tc.want, got), "the data delivered before the error differs from what was sent")
			}
			if strings.Contains(err.Error(), "<nil>") {
				t.Errorf("the error text shows a nil: %v", err)
			}
		})
	}
}
