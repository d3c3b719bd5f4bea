package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/gorustls/gorustls/rustls"
)

func init() {
	register("connect", "connect to HOST:PORT, print the TLS state, copy stdin to the peer and the peer to stdout", runConnect)
}

func runConnect(args []string) error {
	var f clientFlags
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	f.register(fs, "")
	quiet := fs.Bool("q", false, "do not print the connection state")
	if err := f.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: gorustls connect [flags] HOST:PORT")
	}
	addr := fs.Arg(0)
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%q is not HOST:PORT: %w", addr, err)
	}
	cfg, closeCfg, err := f.config()
	if err != nil {
		return err
	}
	defer closeCfg()
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if f.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
	}
	d := rustls.Dialer{Config: cfg, ServerName: f.serverName} // write-through, as every Dialer
	s, err := d.DialStream(ctx, "tcp", addr)
	cancel()
	if err != nil {
		return err
	}
	defer s.Close()
	if !*quiet {
		fmt.Fprintf(os.Stderr, "connected to %s (%s)\n", addr, s.RemoteAddr())
		describe(os.Stderr, s)
	}
	return copyBoth(s, os.Stdin, os.Stdout)
}

// copyBoth copies in to s and s to out. At the end of in it sends
// close_notify and keeps reading; it returns nil only when the peer closes
// cleanly (close_notify), and an error for truncation or any TLS error.
func copyBoth(s *rustls.Stream, in io.Reader, out io.Writer) error {
	sendErr := make(chan error, 1)
	go func() {
		_, err := io.Copy(s, in)
		if err == nil {
			err = s.CloseWrite()
		}
		sendErr <- err
	}()
	_, err := io.Copy(out, s)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("connection truncated: the peer closed the TCP connection without close_notify: %w", err)
	case err != nil:
		return err
	}
	select {
	case err := <-sendErr:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("sending: %w", err)
		}
	default: // the peer closed first; stdin may still be open
	}
	return nil
}
