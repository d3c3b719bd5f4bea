package rustls

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A StartHandshake is consumed by the first IntoStream, Refuse or Abandon:
// a later IntoStream or Refuse gets an *Error saying it was already used
// (naming the first use), a later Abandon does nothing.
func TestStartHandshakeSecondUseIsError(t *testing.T) {
	scfg := serverConfig(t, nil)
	hello := capturedClientHello(t)
	for _, first := range []string{"IntoStream", "Refuse", "Abandon"} {
		t.Run(first, func(t *testing.T) {
			h, conn := readHelloOver(t, hello)
			defer conn.Close()
			switch first {
			case "IntoStream":
				// The client is gone: the handshake fails, but the
				// StartHandshake is used all the same.
				_, err := h.IntoStream(testCtx(t), scfg, StreamOptions{})
				require.Error(t, err)
			case "Refuse":
				_ = h.Refuse(AlertUnrecognizedName) // the peer end is closed: the write fails at once
			case "Abandon":
				h.Abandon()
			}
			_, err := h.IntoStream(testCtx(t), scfg, StreamOptions{})
			e := rustlsError(t, err)
			assert.ErrorIs(t, e, ErrInvalidInput)
			assert.Contains(t, e.Error(), "already used (by "+first+")")
			e = rustlsError(t, h.Refuse(AlertHandshakeFailure))
			assert.Contains(t, e.Error(), "already used (by "+first+")")
			assert.NotPanics(t, h.Abandon)
		})
	}
}
