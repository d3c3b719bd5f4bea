package rustls

import (
	"encoding/hex"
	"io"
	"sync"

	"github.com/gorustls/gorustls/cgo"
)

// keylogSlot binds w to one of librustls's key-log trampolines. Lines are
// written in the NSS key log format (what SSLKEYLOGFILE holds), one Write
// per line, serialized.
func keylogSlot(w io.Writer, op string) (int, error) {
	if w == nil {
		return -1, nil
	}
	var mu sync.Mutex
	slot, ok := cgo.AcquireKeylogSlot(func(label string, clientRandom, secret []byte) {
		line := make([]byte, 0, len(label)+2+2*len(clientRandom)+2*len(secret)+1)
		line = append(line, label...)
		line = append(line, ' ')
		line = hex.AppendEncode(line, clientRandom)
		line = append(line, ' ')
		line = hex.AppendEncode(line, secret)
		line = append(line, '\n')
		mu.Lock()
		_, _ = w.Write(line)
		mu.Unlock()
	})
	if !ok {
		return -1, &Error{Code: CodeInvalidParameter, Op: op,
			Detail: "too many live configs with a KeyLogWriter (the limit is 256); close unused configs"}
	}
	return slot, nil
}
