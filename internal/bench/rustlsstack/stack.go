// Package rustlsstack is gorustls as a bench.Stack.
package rustlsstack

import (
	"context"
	"net"

	"github.com/gorustls/gorustls/cgo"
	"github.com/gorustls/gorustls/internal/bench"
	"github.com/gorustls/gorustls/rustls"
)

// Stack returns the gorustls stack: an Acceptor and a Connector with the
// default crypto provider and default StreamOptions (buffered writes,
// explicit Flush), or StreamOptions.WriteThrough when the scenario's
// Params.WriteThrough asks for it.
func Stack() bench.Stack {
	return bench.Stack{Name: "gorustls", Version: rustls.Version(), Configure: Configure, Calls: cgo.Calls}
}

// RingAESGCMStack is Stack with rustls.RingAESGCMProvider on both ends.
func RingAESGCMStack() bench.Stack {
	return bench.Stack{
		Name:    "gorustls",
		Version: rustls.Version() + " with ring's AES-GCM",
		Configure: func(pki *bench.PKI, p bench.Params) (*bench.Endpoints, error) {
			prov, err := rustls.RingAESGCMProvider()
			if err != nil {
				return nil, err
			}
			defer prov.Close() // the configs keep their own references
			return configure(pki, p, prov)
		},
		Calls: cgo.Calls,
	}
}

// noStore is a SessionStore that keeps nothing: servers built with it
// never resume (full-handshake workloads).
type noStore struct{}

func (noStore) Get([]byte, bool) ([]byte, bool) { return nil, false }
func (noStore) Put([]byte, []byte) bool         { return false }

// Configure builds a server and a client config for p.
func Configure(pki *bench.PKI, p bench.Params) (*bench.Endpoints, error) {
	return configure(pki, p, nil)
}

func configure(pki *bench.PKI, p bench.Params, prov *rustls.Provider) (*bench.Endpoints, error) {
	leaf, err := pki.Leaf(p.Key)
	if err != nil {
		return nil, err
	}
	ck, err := rustls.NewCertifiedKey(leaf.ChainPEM, leaf.KeyPEM)
	if err != nil {
		return nil, err
	}
	defer ck.Close() // the configs keep their own references
	so := rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{ck}, Versions: []uint16{p.Version}, Provider: prov}
	co := rustls.ClientOptions{RootCAs: pki.CAPEM, Versions: []uint16{p.Version}, Provider: prov}
	if p.Suite != 0 {
		so.CipherSuites = []uint16{p.Suite}
		co.CipherSuites = []uint16{p.Suite}
	}
	if !p.Resume {
		so.SessionStore = noStore{}
	}
	scfg, err := rustls.NewServerConfig(so)
	if err != nil {
		return nil, err
	}
	ccfg, err := rustls.NewClientConfig(co)
	if err != nil {
		scfg.Close()
		return nil, err
	}
	sopts := rustls.StreamOptions{WriteThrough: p.WriteThrough}
	acc := rustls.NewAcceptor(scfg, sopts)
	con := rustls.NewConnector(ccfg, sopts)
	return &bench.Endpoints{
		Server: func(ctx context.Context, conn net.Conn) (bench.Conn, error) {
			s, err := acc.Accept(ctx, conn)
			if err != nil {
				return nil, err
			}
			return s, nil
		},
		Client: func(ctx context.Context, conn net.Conn) (bench.Conn, error) {
			s, err := con.Connect(ctx, conn, "localhost")
			if err != nil {
				return nil, err
			}
			return s, nil
		},
		Close: func() {
			scfg.Close()
			ccfg.Close()
		},
		NativeHeap: cgo.MallocInUse,
		TrimNative: cgo.MallocTrim,
	}, nil
}
