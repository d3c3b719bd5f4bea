// The core: the one rustls_connection of a Stream and its mutex.
//
// Every C call on a connection goes through core: it takes core.mu, makes
// exactly one cgo call (a shim in cgo/shim.c that batches the rustls-ffi
// calls one step needs), records whether rustls has output queued (dirty)
// and lets go. core.mu is held only for that call, never across transport
// I/O, so a Read blocked on the socket and a Write blocked on the socket
// never wait for each other here. Closing never waits for core.mu either:
// free marks the connection and whoever holds the mutex frees it on the
// way out of its C call (a user callback running inside that call may be
// the one that called Close).
//
// The halves above it (stream_read.go, stream_write.go) own the buffers
// and the transport I/O; core owns only the C object.

package rustls

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorustls/gorustls/cgo"
)

// resultClosed marks a call made after the connection was freed.
const resultClosed = ^uint32(0)

// core owns one rustls_connection. Its mutex is held only for the length of
// one C call, never across transport I/O. dirty mirrors wants_write as
// sampled by the latest call, updated under the mutex so that it always
// reflects the newest state.
//
// The connection's own user callbacks run inside those C calls, with mu
// held: a callback may Close its Stream (or another goroutine may, while a
// callback is stuck), so freeing never waits for mu. free sets freeing and
// frees at once only if it gets mu without waiting; otherwise the goroutine
// holding mu frees on its way out of its C call (unlock), after rustls has
// returned. Every C-call wrapper below treats a requested free as closed.
type core struct {
	mu      sync.Mutex
	c       *cgo.Conn
	handle  uintptr
	cb      *connCallbacks
	life    *configLife
	server  bool
	dirty   atomic.Bool
	freeing atomic.Bool // free was requested: the holder of mu frees

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
// connection, which may have borrowed them). It never waits: when a C call
// on the connection is in progress (possibly running a user callback that
// called Close, or one that is stuck), the goroutine making that call frees
// the connection as soon as rustls has returned (see unlock). Safe to call
// more than once, from any goroutine, from Close, a failed handshake or
// the cleanup. No user code runs here.
func (k *core) free() {
	// Set before trying mu: a holder that unlocks after our failed
	// TryLock then sees freeing (sequentially consistent atomics; the
	// mutex's state is one of them), so a free is never lost.
	k.freeing.Store(true)
	if k.mu.TryLock() {
		k.freeLocked()
		k.mu.Unlock()
	}
}

// freeLocked frees, once. Called with mu held.
func (k *core) freeLocked() {
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

// lock takes mu and reports whether the connection is still there (not
// freed, no free requested). Callers that get false make no C call and
// unlock at once.
func (k *core) lock() bool {
	k.mu.Lock()
	return k.c != nil && !k.freeing.Load()
}

// unlock releases mu, then serves a free requested while it was held: the
// C call is over, so rustls no longer uses the connection. If another
// goroutine took mu meanwhile, that one frees when it unlocks.
func (k *core) unlock() {
	k.mu.Unlock()
	if k.freeing.Load() && k.mu.TryLock() {
		k.freeLocked()
		k.mu.Unlock()
	}
}

// lockPatient is lock for Close's own C calls (close_notify): it waits for
// mu only while no user callback of this connection runs, since that
// callback may be waiting for Close (or never return). ok is false when it
// gave up; held tells the caller whether to unlock.
func (k *core) lockPatient() (ok, held bool) {
	wait := 20 * time.Microsecond
	for {
		if k.mu.TryLock() {
			return k.c != nil && !k.freeing.Load(), true
		}
		if k.cb != nil && k.cb.busy() {
			return false, false
		}
		// mu is held for one short C call: poll.
		time.Sleep(wait)
		wait = min(2*wait, time.Millisecond)
	}
}

// note records the call's wants_write in dirty. Called with mu held, the
// only place dirty changes: it is stored only when it changed, which spares
// the steady-state data path an atomic exchange per C call.
func (k *core) note(io cgo.IO) cgo.IO {
	if w := io.Flags&cgo.FlagWantsWrite != 0; w != k.dirty.Load() {
		k.dirty.Store(w)
	}
	return io
}

func (k *core) read(buf, spill, in []byte, eof bool) cgo.IO {
	defer k.unlock()
	if !k.lock() {
		return cgo.IO{Result: resultClosed}
	}
	return k.note(k.c.Read(buf, spill, in, eof))
}

func (k *core) feed(in []byte, eof bool) cgo.IO {
	defer k.unlock()
	if !k.lock() {
		return cgo.IO{Result: resultClosed}
	}
	return k.note(k.c.Feed(in, eof))
}

// enter takes core.mu for one C call: patiently for Close's calls (which
// give up, as closed, rather than wait behind a user callback; see
// lockPatient), plainly otherwise. held says whether unlock is due, ok
// whether the call may run.
func (k *core) enter(patient bool) (ok, held bool) {
	if patient {
		return k.lockPatient()
	}
	return k.lock(), true
}

// write hands p to rustls and moves ciphertext out (see cgo.Conn.Write;
// fd is cgo.NoFD or a socket to send to directly). With patient (Close's
// calls) it gives up, as closed, rather than wait behind a user callback.
func (k *core) write(p []byte, fd int, out []byte, drain, patient bool) cgo.IO {
	ok, held := k.enter(patient)
	if held {
		defer k.unlock()
	}
	if !ok {
		return cgo.IO{Result: resultClosed}
	}
	return k.note(k.c.Write(p, fd, out, drain))
}

// drain queues what (a cgo.Queue* record) and moves ciphertext out (see
// cgo.Conn.Drain). patient as for write.
func (k *core) drain(fd int, out []byte, what int, patient bool) cgo.IO {
	ok, held := k.enter(patient)
	if held {
		defer k.unlock()
	}
	if !ok {
		return cgo.IO{Result: resultClosed}
	}
	return k.note(k.c.Drain(fd, out, what))
}

func (k *core) flags() (uint32, bool) {
	defer k.unlock()
	if !k.lock() {
		return 0, false
	}
	f := k.c.Flags()
	k.dirty.Store(f&cgo.FlagWantsWrite != 0)
	return f, true
}

func (k *core) version() uint16 {
	defer k.unlock()
	if !k.lock() {
		return 0
	}
	return k.c.ProtocolVersion()
}

func (k *core) state() (cgo.State, [][]byte, bool) {
	defer k.unlock()
	if !k.lock() {
		return cgo.State{}, nil, false
	}
	return k.c.State(k.server), k.c.PeerCertificates(), true
}

func (k *core) setBufferLimit(n int) {
	defer k.unlock()
	if k.lock() {
		k.c.SetBufferLimit(n)
	}
}
