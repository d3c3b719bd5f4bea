package rustls

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingHandler keeps slog records.
type recordingHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordingHandler) snapshot() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]slog.Record(nil), h.records...)
}

func TestStreamLogger(t *testing.T) {
	sh, ch := &recordingHandler{}, &recordingHandler{}
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil),
		StreamOptions{Logger: slog.New(sh)}, StreamOptions{Logger: slog.New(ch)})
	echoPair(t, c, s, 100)
	for name, h := range map[string]*recordingHandler{"server": sh, "client": ch} {
		recs := h.snapshot()
		require.NotEmpty(t, recs, "%s: no rustls log records", name)
		for _, r := range recs {
			assert.NotEmpty(t, r.Message)
			var src string
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "source" {
					src = a.Value.String()
				}
				return true
			})
			assert.Equal(t, "rustls", src)
		}
		t.Logf("%s: %d records, first %q at %v", name, len(recs), recs[0].Message, recs[0].Level)
	}
}
