package rustls

import (
	"sync"
	"sync/atomic"

	"github.com/gorustls/gorustls/cgo"
)

// resultClosed marks a call made after the connection was freed.
const resultClosed = ^uint32(0)

// core owns one rustls_connection. Its mutex is held only for the length of
// one C call, never across transport I/O. dirty mirrors wants_write as
// sampled by the latest call, updated under the mutex so that it always
// reflects the newest state.
type core struct {
	mu     sync.Mutex
	c      *cgo.Conn
	handle uintptr
	cb     *connCallbacks
	life   *configLife
	server bool
	dirty  atomic.Bool

	// clientAuth is a server config's client-auth mode, checked again
	// when a session resumes (settleState).
	clientAuth ClientAuth
}

func newCore(c *cgo.Conn, cb *connCallbacks, life *configLife, server bool) *core {
	k := &core{c: c, cb: cb, life: life, server: server}
	k.handle = cgo.NewHandle(cb)
	c.SetUserdata(k.handle)
	// A client connection (and one made from an accepted ClientHello) has
	// output queued from the start.
	k.dirty.Store(c.Flags()&cgo.FlagWantsWrite != 0)
	return k
}

// free releases the connection, its callback handle, its config reference
// and the references to keys its GetCertificate returned (after the C
// connection, which may have borrowed them). Safe to call more than once,
// from Close or from the cleanup. No user code runs here.
func (k *core) free() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.c == nil {
		return
	}
	k.c.Free()
	k.c = nil
	cgo.ReleaseHandle(k.handle)
	k.handle = 0
	if k.cb != nil {
		k.cb.releaseKeys()
	}
	if k.life != nil {
		k.life.release()
	}
}

func (k *core) note(io cgo.IO) cgo.IO {
	k.dirty.Store(io.Flags&cgo.FlagWantsWrite != 0)
	return io
}

func (k *core) read(buf, spill, in []byte, eof bool) cgo.IO {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.c == nil {
		return cgo.IO{Result: resultClosed}
	}
	return k.note(k.c.Read(buf, spill, in, eof))
}

func (k *core) feed(in []byte, eof bool) cgo.IO {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.c == nil {
		return cgo.IO{Result: resultClosed}
	}
	return k.note(k.c.Feed(in, eof))
}

// write hands p to rustls and moves ciphertext out (see cgo.Conn.Write;
// fd is cgo.NoFD or a socket to send to directly).
func (k *core) write(p []byte, fd int, out []byte, drain bool) cgo.IO {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.c == nil {
		return cgo.IO{Result: resultClosed}
	}
	return k.note(k.c.Write(p, fd, out, drain))
}

// drain queues what (a cgo.Queue* record) and moves ciphertext out (see
// cgo.Conn.Drain).
func (k *core) drain(fd int, out []byte, what int) cgo.IO {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.c == nil {
		return cgo.IO{Result: resultClosed}
	}
	return k.note(k.c.Drain(fd, out, what))
}

func (k *core) flags() (uint32, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.c == nil {
		return 0, false
	}
	f := k.c.Flags()
	k.dirty.Store(f&cgo.FlagWantsWrite != 0)
	return f, true
}

func (k *core) version() uint16 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.c == nil {
		return 0
	}
	return k.c.ProtocolVersion()
}

func (k *core) state() (cgo.State, [][]byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.c == nil {
		return cgo.State{}, nil, false
	}
	return k.c.State(k.server), k.c.PeerCertificates(), true
}

func (k *core) setBufferLimit(n int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.c != nil {
		k.c.SetBufferLimit(n)
	}
}
