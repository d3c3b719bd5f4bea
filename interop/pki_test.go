package interop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ca is an in-memory certificate authority.
type ca struct {
	name   string
	cert   *x509.Certificate
	key    crypto.Signer
	pem    []byte
	file   string
	mu     sync.Mutex
	serial int64
}

// leaf is a certificate and key, in memory and on disk for the peers.
type leaf struct {
	cert              *x509.Certificate
	certPEM, keyPEM   []byte // certPEM: leaf then issuer
	certFile, keyFile string
}

// pkiSet is every certificate the suite uses.
type pkiSet struct {
	dir        string
	ca, other  *ca              // other: a CA nobody trusts
	servers    map[string]*leaf // by key type: p256 p384 rsa2048 rsa4096 ed25519
	sni        map[string]*leaf // by SNI name: a.test, b.test
	client     *leaf            // client certificate from ca
	otherCli   *leaf            // client certificate from other
	otherSrv   *leaf            // server certificate from other
	expired    *leaf            // server certificate past its NotAfter
	wrongName  *leaf            // server certificate for other.test only
	revoked    *leaf            // server certificate listed in crl
	revokedCli *leaf            // client certificate listed in crl
	crlPEM     []byte           // ca's CRL revoking revoked and revokedCli
	crlFile    string
	goTLS      map[string]tls.Certificate
}

var keyTypes = []string{"p256", "p384", "rsa2048", "rsa4096", "ed25519"}

func genKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "p256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa2048":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "rsa4096":
		return rsa.GenerateKey(rand.Reader, 4096)
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unknown key type %q", alg)
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func newCA(dir, name string) (*ca, error) {
	key, err := genKey("p256")
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	c := &ca{name: name, cert: cert, key: key, pem: pemOf("CERTIFICATE", der), serial: 1}
	c.file = filepath.Join(dir, name+"-ca.pem")
	return c, os.WriteFile(c.file, c.pem, 0o600)
}

type leafSpec struct {
	file      string // base name on disk
	alg       string
	client    bool
	notBefore time.Time
	notAfter  time.Time
	names     []string
}

func (c *ca) issue(dir string, key crypto.Signer, s leafSpec) (*leaf, error) {
	c.mu.Lock()
	c.serial++
	serial := c.serial
	c.mu.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: s.file},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if s.client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	if !s.notBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = s.notBefore, s.notAfter
	}
	for _, n := range s.names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	l := &leaf{cert: cert, certPEM: append(pemOf("CERTIFICATE", der), c.pem...), keyPEM: pemOf("PRIVATE KEY", kder)}
	l.certFile = filepath.Join(dir, s.file+"-cert.pem")
	l.keyFile = filepath.Join(dir, s.file+"-key.pem")
	if err := os.WriteFile(l.certFile, l.certPEM, 0o600); err != nil {
		return nil, err
	}
	return l, os.WriteFile(l.keyFile, l.keyPEM, 0o600)
}

func (c *ca) crl(revoked ...*x509.Certificate) ([]byte, error) {
	var entries []x509.RevocationListEntry
	for _, r := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: r.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(1),
		ThisUpdate:                time.Now().Add(-time.Hour),
		NextUpdate:                time.Now().Add(24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, c.cert, c.key)
	if err != nil {
		return nil, err
	}
	return pemOf("X509 CRL", der), nil
}

// newPKI makes every certificate, generating the keys in parallel (RSA 4096
// is slow under -race).
func newPKI(dir string) (*pkiSet, error) {
	p := &pkiSet{dir: dir, servers: map[string]*leaf{}, sni: map[string]*leaf{}, goTLS: map[string]tls.Certificate{}}
	var err error
	if p.ca, err = newCA(dir, "interop"); err != nil {
		return nil, err
	}
	if p.other, err = newCA(dir, "untrusted"); err != nil {
		return nil, err
	}
	hostNames := []string{"localhost", "127.0.0.1"}
	past := time.Now().Add(-48 * time.Hour)
	type job struct {
		ca   *ca
		spec leafSpec
		dst  **leaf
	}
	var jobs []job
	leaves := make([]*leaf, len(keyTypes))
	for i, kt := range keyTypes {
		jobs = append(jobs, job{p.ca, leafSpec{file: "server-" + kt, alg: kt, names: hostNames}, &leaves[i]})
	}
	var sniA, sniB *leaf
	jobs = append(jobs,
		job{p.ca, leafSpec{file: "sni-a", alg: "p256", names: []string{"a.test"}}, &sniA},
		job{p.ca, leafSpec{file: "sni-b", alg: "ed25519", names: []string{"b.test"}}, &sniB},
		job{p.ca, leafSpec{file: "client", alg: "p256", client: true}, &p.client},
		job{p.other, leafSpec{file: "client-untrusted", alg: "p256", client: true}, &p.otherCli},
		job{p.other, leafSpec{file: "server-untrusted", alg: "p256", names: hostNames}, &p.otherSrv},
		job{p.ca, leafSpec{file: "expired", alg: "p256", names: hostNames, notBefore: past, notAfter: past.Add(time.Hour)}, &p.expired},
		job{p.ca, leafSpec{file: "wrong-name", alg: "p256", names: []string{"other.test"}}, &p.wrongName},
		job{p.ca, leafSpec{file: "revoked", alg: "p256", names: hostNames}, &p.revoked},
		job{p.ca, leafSpec{file: "client-revoked", alg: "p256", client: true}, &p.revokedCli},
	)
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key, err := genKey(j.spec.alg)
			if err == nil {
				*j.dst, err = j.ca.issue(dir, key, j.spec)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return nil, e
		}
	}
	for i, kt := range keyTypes {
		p.servers[kt] = leaves[i]
	}
	p.sni["a.test"], p.sni["b.test"] = sniA, sniB
	if p.crlPEM, err = p.ca.crl(p.revoked.cert, p.revokedCli.cert); err != nil {
		return nil, err
	}
	p.crlFile = filepath.Join(dir, "interop.crl.pem")
	if err := os.WriteFile(p.crlFile, p.crlPEM, 0o600); err != nil {
		return nil, err
	}
	return p, nil
}

func (l *leaf) tlsCert() tls.Certificate {
	c, err := tls.X509KeyPair(l.certPEM, l.keyPEM)
	if err != nil {
		panic(err)
	}
	return c
}

func (c *ca) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}
