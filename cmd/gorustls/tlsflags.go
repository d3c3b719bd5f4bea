package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gorustls/gorustls/rustls"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// clientFlags are the TLS flags of connect and get.
type clientFlags struct {
	cert, key, serverName, alpn, versions, keylog string
	ca                                            listFlag
	timeout                                       time.Duration
}

func (f *clientFlags) register(fs *flag.FlagSet, defaultALPN string) {
	fs.Var(&f.ca, "ca", "PEM `file` of trusted CAs (repeat for several files; default: the system's roots)")
	fs.StringVar(&f.cert, "cert", "", "client certificate chain PEM `file`, for mutual TLS")
	fs.StringVar(&f.key, "key", "", "client private key PEM `file`, for mutual TLS")
	fs.StringVar(&f.serverName, "servername", "", "server `name` to verify and send as SNI (default: the host)")
	fs.StringVar(&f.alpn, "alpn", defaultALPN, "comma-separated ALPN `protocols` to offer")
	fs.StringVar(&f.versions, "versions", "", "TLS `versions` to enable: 1.2,1.3 (default: both)")
	fs.StringVar(&f.keylog, "keylog", "", "append TLS secrets to `file` (NSS key log format)")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "bound on dialing, and on the TLS handshake, of a connection (0: none)")
}

// parse parses args into fs and checks the flags: no single-valued flag
// given twice, no negative -timeout.
func (f *clientFlags) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := rejectRepeats(fs, args); err != nil {
		return err
	}
	if f.timeout < 0 {
		return fmt.Errorf("-timeout: %v is negative (0 means no bound)", f.timeout)
	}
	return nil
}

// config builds the client config; the returned closer closes the key log.
func (f *clientFlags) config() (*rustls.ClientConfig, func(), error) {
	o := rustls.ClientOptions{NextProtos: splitList(f.alpn)}
	if len(f.ca) > 0 {
		o.RootCAFiles = f.ca
	} else {
		o.SystemRoots = true
	}
	var err error
	if o.Versions, err = parseVersions(f.versions); err != nil {
		return nil, nil, err
	}
	if (f.cert == "") != (f.key == "") {
		return nil, nil, fmt.Errorf("-cert and -key go together")
	}
	if f.cert != "" {
		k, err := rustls.LoadCertifiedKey(f.cert, f.key)
		if err != nil {
			return nil, nil, err
		}
		defer k.Close()
		o.Certificate = k
	}
	kl, closeKL, err := openKeylog(f.keylog)
	if err != nil {
		return nil, nil, err
	}
	o.KeyLogWriter = kl
	cfg, err := rustls.NewClientConfig(o)
	if err != nil {
		closeKL()
		return nil, nil, err
	}
	return cfg, func() { cfg.Close(); closeKL() }, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseVersions(s string) ([]uint16, error) {
	var vs []uint16
	for _, v := range splitList(s) {
		switch strings.TrimPrefix(strings.ToLower(v), "tls") {
		case "1.2", "12":
			vs = append(vs, rustls.VersionTLS12)
		case "1.3", "13":
			vs = append(vs, rustls.VersionTLS13)
		default:
			return nil, fmt.Errorf("-versions: unknown TLS version %q (want 1.2 and/or 1.3)", v)
		}
	}
	return vs, nil
}

// openKeylog opens name for appending, owner-only (nil writer when name is
// empty).
func openKeylog(name string) (io.Writer, func(), error) {
	if name == "" {
		return nil, func() {}, nil
	}
	// Owner-only, as KeyLogFromEnv: an existing file others can read is
	// tightened, a link or a shared FIFO refused.
	f, err := rustls.OpenKeyLogFile(name)
	if err != nil {
		return nil, nil, fmt.Errorf("-keylog: %w", err)
	}
	return f, func() { f.Close() }, nil
}

func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS12:
		return "TLS 1.2"
	case tls.VersionTLS13:
		return "TLS 1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// describe writes a Stream's negotiated parameters, one per line.
func describe(w io.Writer, s *rustls.Stream) {
	st := s.ConnectionState()
	kind := map[rustls.HandshakeKind]string{rustls.HandshakeFull: "full", rustls.HandshakeFullWithHelloRetryRequest: "full with HelloRetryRequest", rustls.HandshakeResumed: "resumed"}[s.HandshakeKind()]
	fmt.Fprintf(w, "  version:       %s\n", versionName(st.Version))
	fmt.Fprintf(w, "  cipher suite:  %s\n", s.CipherSuiteName())
	fmt.Fprintf(w, "  key exchange:  %s\n", s.KeyExchangeGroup())
	fmt.Fprintf(w, "  ALPN:          %s\n", orNone(st.NegotiatedProtocol))
	fmt.Fprintf(w, "  server name:   %s\n", orNone(st.ServerName))
	fmt.Fprintf(w, "  handshake:     %s\n", orNone(kind))
	for i, c := range st.PeerCertificates {
		fmt.Fprintf(w, "  peer cert %d:   %s (issuer %s, expires %s)\n", i, certName(c), c.Issuer.CommonName, c.NotAfter.Format(time.DateOnly))
	}
}

func certName(c *x509.Certificate) string {
	if len(c.DNSNames) > 0 {
		return "DNS:" + strings.Join(c.DNSNames, ",")
	}
	return "CN=" + c.Subject.CommonName
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// stapleOCSP returns k with the DER OCSP response read from file to staple
// (see rustls.CertifiedKey.WithOCSP) and closes k. A file that is missing,
// unreadable, empty or does not hold an OCSP response is an error naming it.
func stapleOCSP(k *rustls.CertifiedKey, file string) (*rustls.CertifiedKey, error) {
	defer k.Close()
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("-ocsp: %w", err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("-ocsp %s: the file is empty (want a DER OCSP response, as openssl ocsp -respout writes)", file)
	}
	sk, err := k.WithOCSP(b)
	if err != nil {
		return nil, fmt.Errorf("-ocsp %s: %w", file, err)
	}
	return sk, nil
}
