// The TLS wire-format reader used by the ClientHello parser
// (hello_parse.go) and by the stored-session checks (session_policy.go):
// bounds-checked big-endian integers and length-prefixed vectors over
// untrusted bytes. The record scanner that follows TLS record headers in a
// Stream's input is inHalf.scan, in stream_read.go.

package rustls

// wireReader reads the big-endian, length-prefixed encodings TLS uses (a
// ClientHello, rustls's stored sessions). A read past the end sets bad and
// returns zero values from then on, so parsers check bad once at the end
// instead of after every field; nothing here panics on hostile input.
type wireReader struct {
	b   []byte
	bad bool
}

// bytes returns the next n bytes (capacity capped, so appends cannot
// reach the rest of the input).
func (r *wireReader) bytes(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *wireReader) skip(n int) { r.bytes(n) }

// uint reads an n-byte big-endian unsigned integer (n <= 8).
func (r *wireReader) uint(n int) uint64 {
	var v uint64
	for _, c := range r.bytes(n) {
		v = v<<8 | uint64(c)
	}
	return v
}

func (r *wireReader) u8() int  { return int(r.uint(1)) }
func (r *wireReader) u16() int { return int(r.uint(2)) }
func (r *wireReader) u24() int { return int(r.uint(3)) }

// vec8 and vec16 read a vector with an 8- or 16-bit length prefix.
func (r *wireReader) vec8() wireReader  { return wireReader{b: r.bytes(r.u8()), bad: r.bad} }
func (r *wireReader) vec16() wireReader { return wireReader{b: r.bytes(r.u16()), bad: r.bad} }

// u16s reads the rest as a list of uint16 (an odd length is bad).
func (r *wireReader) u16s() []uint16 {
	if r.bad || len(r.b)%2 != 0 {
		r.bad = true
		return nil
	}
	out := make([]uint16, 0, len(r.b)/2)
	for len(r.b) > 0 {
		out = append(out, uint16(r.u16()))
	}
	return out
}

// flag reads an option marker: 0 absent, 1 present, anything else bad.
func (r *wireReader) flag() bool {
	switch r.uint(1) {
	case 0:
		return false
	case 1:
		return true
	}
	r.bad = true
	return false
}
