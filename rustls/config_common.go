package rustls

import (
	"io"
	"runtime"
	"sync"

	"github.com/gorustls/gorustls/cgo"
)

// commonOptions are the fields ClientOptions and ServerOptions share and
// resolve alike, after each side's own checks.
type commonOptions struct {
	Provider      *Provider
	CipherSuites  []uint16
	Versions      []uint16
	KeyLogWriter  io.Writer
	KeyLogFromEnv bool
}

// resolve returns the crypto provider (restricted to CipherSuites, which
// must be usable with Versions) and the key log slot (-1: none; with
// KeyLogFromEnv and no writer, SSLKEYLOGFILE is made ready instead).
// release frees the provider reference; call it once the config is built.
// On error nothing is left to release.
func (o commonOptions) resolve(op string) (prov *cgo.Provider, slot int, release func(), err error) {
	prov, freeProv, err := resolveProvider(o.Provider, o.CipherSuites, op)
	if err != nil {
		return nil, -1, nil, err
	}
	if err := checkSuitesUsable(prov, o.Versions, op); err != nil {
		freeProv()
		return nil, -1, nil, err
	}
	if o.KeyLogFromEnv && o.KeyLogWriter == nil {
		if err := prepareKeyLogFile(op); err != nil {
			freeProv()
			return nil, -1, nil, err
		}
	}
	if slot, err = keylogSlot(o.KeyLogWriter, op); err != nil {
		freeProv()
		return nil, -1, nil, err
	}
	return prov, slot, freeProv, nil
}

// buildConfig runs build (cgo.BuildClientConfig or cgo.BuildServerConfig
// with its spec); when it fails the key log slot is released and the
// error is mapped to an *Error naming op.
func buildConfig[C any](slot int, op string, build func() (*C, error)) (*C, error) {
	c, err := build()
	if err != nil {
		cgo.ReleaseKeylogSlot(slot)
		return nil, annotate(fromCgo(err), op)
	}
	return c, nil
}

// closeOwner drops the owner's reference to the C config (Close of both
// config types), once, and stops the cleanup that would drop it otherwise.
func (l *configLife) closeOwner(once *sync.Once, cleanup *runtime.Cleanup) {
	once.Do(func() {
		cleanup.Stop()
		l.close()
	})
}

// watchConfig drops l's owner reference if owner becomes unreachable
// without Close.
func watchConfig[T any](owner *T, l *configLife) runtime.Cleanup {
	return runtime.AddCleanup(owner, func(l *configLife) { l.close() }, l)
}
