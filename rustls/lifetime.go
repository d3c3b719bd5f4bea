package rustls

import (
	"sync"

	"github.com/gorustls/gorustls/cgo"
)

// configLife tracks the C reference a config owns and the streams made from
// it. The C config is freed at Close (connections hold their own C
// references); the key-log slot is released only when the config is closed
// and no stream made from it remains, since rustls-ffi's key-log callback
// cannot tell configs apart.
type configLife struct {
	mu      sync.Mutex
	free    func()
	slot    int
	closed  bool
	streams int
	peer    *peerCheck // how streams report and check the peer (peer_check.go)
}

func newConfigLife(free func(), slot int) *configLife {
	return &configLife{free: free, slot: slot}
}

// acquire runs fn (which creates a connection from the C config) while the
// config is known to be open, and counts a stream on success.
func (l *configLife) acquire(fn func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return &Error{Code: CodeInvalidParameter, Op: "start connection", Detail: "the config is closed"}
	}
	if err := fn(); err != nil {
		return err
	}
	l.streams++
	return nil
}

// release is called once per stream when its connection is freed.
func (l *configLife) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.streams--
	l.maybeFinish()
}

func (l *configLife) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	l.free()
	l.maybeFinish()
}

// maybeFinish releases the slot, once, when no C reference to the config
// remains.
func (l *configLife) maybeFinish() {
	if l.closed && l.streams == 0 && l.slot >= 0 {
		cgo.ReleaseKeylogSlot(l.slot)
		l.slot = -1
	}
}
