package rustls

import (
	"encoding/hex"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/gorustls/gorustls/cgo"
)

// keylogSlot binds w to one of librustls's key-log trampolines. Lines are
// written in the NSS key log format (what SSLKEYLOGFILE holds), one Write
// per line, serialized. rustls-ffi gives key-log callbacks no connection,
// so a Write that panics cannot fail a handshake: the panic is recovered
// and that line is lost; the lock is released by defer, so later lines,
// handshakes and Close go on as usual.
func keylogSlot(w io.Writer, op string) (int, error) {
	if w == nil {
		return -1, nil
	}
	var mu sync.Mutex
	write := func(line []byte) {
		defer func() { _ = recover() }()
		mu.Lock()
		defer mu.Unlock()
		_, _ = w.Write(line)
	}
	fn := func(label string, clientRandom, secret []byte) {
		line := make([]byte, 0, len(label)+2+2*len(clientRandom)+2*len(secret)+1)
		line = append(line, label...)
		line = append(line, ' ')
		line = hex.AppendEncode(line, clientRandom)
		line = append(line, ' ')
		line = hex.AppendEncode(line, secret)
		line = append(line, '\n')
		write(line)
	}
	slot, ok := cgo.AcquireKeylogSlot(fn)
	if !ok {
		slot, ok = acquireKeylogSlotAfterGC(fn)
	}
	if !ok {
		return -1, &Error{Code: CodeInvalidParameter, Op: op,
			Detail: "too many live configs with a KeyLogWriter (the limit is 256, counting configs not yet collected and those with live streams); close unused configs"}
	}
	return slot, nil
}

// keylogGCWait bounds how long a config build waits, once every key-log
// slot is taken, for the cleanups of unreachable configs to free some.
const keylogGCWait = 100 * time.Millisecond

// acquireKeylogSlotAfterGC is the slow path when every slot is taken:
// configs dropped without Close hold their slots until their cleanups run,
// so it runs the garbage collector and polls briefly (keylogGCWait at
// most) for a slot their cleanups release.
func acquireKeylogSlotAfterGC(fn func(label string, clientRandom, secret []byte)) (int, bool) {
	runtime.GC()
	deadline := time.Now().Add(keylogGCWait)
	for {
		if slot, ok := cgo.AcquireKeylogSlot(fn); ok {
			return slot, true
		}
		if !time.Now().Before(deadline) {
			return -1, false
		}
		time.Sleep(2 * time.Millisecond)
	}
}
