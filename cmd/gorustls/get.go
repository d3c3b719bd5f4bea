package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/gorustls/gorustls/rustlshttp"
)

func init() {
	register("get", "fetch an https URL (HTTP/2 or HTTP/1.1 by ALPN) and write the body to stdout", runGet)
}

// maxRedirects is how many redirects get follows, as net/http's client.
const maxRedirects = 10

func runGet(args []string) error {
	var f clientFlags
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	f.register(fs, "h2,http/1.1")
	verbose := fs.Bool("v", false, "print the TLS state, redirects, the status and the headers to stderr")
	maxTime := fs.Duration("max-time", 0, "bound on the whole transfer, body included (0: none)")
	if err := f.parse(fs, args); err != nil {
		return err
	}
	for _, p := range splitList(f.alpn) {
		if p != "h2" && p != "http/1.1" && p != "http/1.0" {
			return fmt.Errorf("-alpn: get speaks only h2 and http/1.1, so it cannot offer %q", p)
		}
	}
	if *maxTime < 0 {
		return fmt.Errorf("-max-time: %v is negative (0 means no bound)", *maxTime)
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
	// -timeout bounds dialing and the handshake of each connection, not
	// the transfer.
	tr.NetDialer = &net.Dialer{Timeout: f.timeout}
	tr.HTTP1 = http.DefaultTransport.(*http.Transport).Clone()
	tr.HTTP1.TLSHandshakeTimeout = f.timeout
	if *verbose {
		tr.OnDial = func(s *rustls.Stream) {
			fmt.Fprintf(os.Stderr, "* connected to %s\n", s.RemoteAddr())
			describe(os.Stderr, s)
		}
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if *maxTime > 0 {
		ctx, cancel = context.WithTimeout(ctx, *maxTime)
	}
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "gorustls/"+rustls.Version())
	client := &http.Client{Transport: tr, CheckRedirect: func(next *http.Request, via []*http.Request) error {
		from := via[len(via)-1].URL
		if next.URL.Scheme != "https" {
			return fmt.Errorf("refusing the redirect from %s to %s: not https (the request and the answer would travel unencrypted)", from, next.URL)
		}
		if f.serverName != "" && !strings.EqualFold(next.URL.Hostname(), via[0].URL.Hostname()) {
			// The Transport would verify the other host as -servername,
			// as crypto/tls does with tls.Config.ServerName.
			return fmt.Errorf("refusing the redirect from %s to %s: -servername %s is for %s only, and %s would be verified as %[3]s; fetch that URL by itself", from, next.URL, f.serverName, via[0].URL.Hostname(), next.URL.Hostname())
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects (the last to %s)", maxRedirects, next.URL)
		}
		if *verbose {
			fmt.Fprintf(os.Stderr, "* redirect %s -> %s (%s)\n", from, next.URL, next.Response.Status)
		}
		return nil
	}}
	resp, err := client.Do(req)
	if err != nil {
		return maxTimeErr(ctx, *maxTime, err)
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
		return maxTimeErr(ctx, *maxTime, fmt.Errorf("reading the body: %w", err))
	}
	if resp.StatusCode >= 400 {
		return fmt.Errorf("server answered %s", resp.Status)
	}
	return nil
}

// maxTimeErr says so when err comes from -max-time running out.
func maxTimeErr(ctx context.Context, maxTime time.Duration, err error) error {
	if maxTime > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("-max-time %v exceeded: %w", maxTime, err)
	}
	return err
}
