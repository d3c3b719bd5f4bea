package interop

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gorustls/gorustls/internal/pki"
)

// ca is an in-memory certificate authority, with its certificate on disk
// for the peers.
type ca struct {
	name string
	ca   *pki.CA
	pem  []byte
	file string
}

// leaf is a certificate and key, in memory and on disk for the peers.
type leaf struct {
	cert              *x509.Certificate
	certPEM, keyPEM   []byte // certPEM: leaf then issuer
	certFile, keyFile string
	tls               tls.Certificate
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

// newCA makes an in-memory CA and writes its certificate into dir for the
// peers.
func newCA(dir, name string) (*ca, error) {
	c, err := pki.New(pki.CAOptions{Name: name, NotAfter: time.Now().Add(48 * time.Hour)})
	if err != nil {
		return nil, err
	}
	r := &ca{name: name, ca: c, pem: c.PEM, file: filepath.Join(dir, name+"-ca.pem")}
	return r, os.WriteFile(r.file, r.pem, 0o600)
}

type leafSpec struct {
	file      string // base name on disk
	alg       string
	client    bool
	notBefore time.Time
	notAfter  time.Time
	names     []string
}

// issue makes a leaf as s describes and writes it into dir for the peers
// (the certificate file holds the leaf then its issuer).
func (c *ca) issue(dir string, s leafSpec) (*leaf, error) {
	pl, err := c.ca.Issue(pki.LeafOptions{Names: s.names, CommonName: s.file, Client: s.client,
		Key: pki.KeyType(s.alg), NotBefore: s.notBefore, NotAfter: s.notAfter})
	if err != nil {
		return nil, err
	}
	l := &leaf{cert: pl.Cert, certPEM: pl.ChainPEM, keyPEM: pl.KeyPEM, tls: pl.TLSCertificate()}
	l.certFile = filepath.Join(dir, s.file+"-cert.pem")
	l.keyFile = filepath.Join(dir, s.file+"-key.pem")
	if err := os.WriteFile(l.certFile, l.certPEM, 0o600); err != nil {
		return nil, err
	}
	return l, os.WriteFile(l.keyFile, l.keyPEM, 0o600)
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
			var err error
			*j.dst, err = j.ca.issue(dir, j.spec)
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
	if p.crlPEM, err = p.ca.ca.CRL(p.revoked.cert, p.revokedCli.cert); err != nil {
		return nil, err
	}
	p.crlFile = filepath.Join(dir, "interop.crl.pem")
	if err := os.WriteFile(p.crlFile, p.crlPEM, 0o600); err != nil {
		return nil, err
	}
	return p, nil
}

func (l *leaf) tlsCert() tls.Certificate { return l.tls }

func (c *ca) pool() *x509.CertPool { return c.ca.Pool() }
