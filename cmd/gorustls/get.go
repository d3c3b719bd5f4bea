package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"

	"github.com/gorustls/gorustls/rustls"
	"github.com/gorustls/gorustls/rustlshttp"
)

func init() {
	register("get", "fetch an https URL (HTTP/2 or HTTP/1.1 by ALPN) and write the body to stdout", runGet)
}

func runGet(args []string) error {
	var f clientFlags
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	f.register(fs, "h2,http/1.1")
	verbose := fs.Bool("v", false, "print the TLS state, the status and the headers to stderr")
	if err := f.parse(fs, args); err != nil {
		return err
	}
	for _, p := range splitList(f.alpn) {
		if p != "h2" && p != "http/1.1" && p != "http/1.0" {
			return fmt.Errorf("-alpn: get speaks only h2 and http/1.1, so it cannot offer %q", p)
		}
	}
	if fs.NArg() != 1 {
		return errors.New("usage: gorustls get [flags] https://HOST[:PORT]/PATH")
	}
	u, err := url.Parse(fs.Arg(0))
	if err != nil {
		return err
	}
	if u.Scheme != "https" {
		return fmt.Errorf("%q: only https URLs are supported", fs.Arg(0))
	}
	cfg, closeCfg, err := f.config()
	if err != nil {
		return err
	}
	defer closeCfg()
	tr := rustlshttp.NewTransport(cfg)
	tr.ServerName = f.serverName
	if *verbose {
		tr.OnDial = func(s *rustls.Stream) {
			fmt.Fprintf(os.Stderr, "* connected to %s\n", s.RemoteAddr())
			describe(os.Stderr, s)
		}
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if f.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
	}
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "gorustls/"+rustls.Version())
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if *verbose {
		fmt.Fprintf(os.Stderr, "< %s %s\n", resp.Proto, resp.Status)
		keys := make([]string, 0, len(resp.Header))
		for k := range resp.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range resp.Header[k] {
				fmt.Fprintf(os.Stderr, "< %s: %s\n", k, v)
			}
		}
	}
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	if resp.StatusCode >= 400 {
		return fmt.Errorf("server answered %s", resp.Status)
	}
	return nil
}
