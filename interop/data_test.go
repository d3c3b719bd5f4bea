package interop

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/require"
)

// bigSize is the size of the bulk transfers.
const bigSize = 64 << 20

var bigData struct {
	once sync.Once
	path string
	sum  string
	err  error
}

// bigFile returns a 64 MiB file of pseudo-random bytes (made once) and its
// SHA-256 in hex.
func bigFile(t testing.TB) (string, string) {
	t.Helper()
	path, sum, err := makeBig()
	require.NoError(t, err)
	return path, sum
}

func makeBig() (string, string, error) {
	bigData.once.Do(func() {
		bigData.path = filepath.Join(pk.dir, "big.bin")
		f, err := os.Create(bigData.path)
		if err != nil {
			bigData.err = err
			return
		}
		defer f.Close()
		h := sha256.New()
		w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
		rng := rand.NewChaCha8([32]byte{'g', 'o', 'r', 'u', 's', 't', 'l', 's'})
		buf := make([]byte, 1<<20)
		for i := 0; i < bigSize/len(buf); i++ {
			_, _ = rng.Read(buf)
			if _, bigData.err = w.Write(buf); bigData.err != nil {
				return
			}
		}
		bigData.err = w.Flush()
		bigData.sum = hex.EncodeToString(h.Sum(nil))
	})
	return bigData.path, bigData.sum, bigData.err
}

// sendBig sends the big file and closes; r.info is its SHA-256.
func sendBig(s *rustls.Stream, r *connResult) {
	path, sum, err := makeBig()
	if err != nil {
		r.err = err
		return
	}
	f, err := os.Open(path)
	if err != nil {
		r.err = err
		return
	}
	defer f.Close()
	if _, err := io.Copy(s, f); err != nil {
		r.err = err
		return
	}
	r.info = sum
}

// sinkSum reads until the peer's close_notify and returns the SHA-256.
func sinkSum(rd io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, rd)
	return hex.EncodeToString(h.Sum(nil)), n, err
}
