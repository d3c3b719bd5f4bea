package rustls

import "encoding/binary"

// A hand-built ClientHello for protocol-level tests: every field can be
// set, broken or left out.

// TLS extension code points used by the tests.
const (
	extServerName          uint16 = 0
	extSupportedGroups     uint16 = 10
	extECPointFormats      uint16 = 11
	extSignatureAlgorithms uint16 = 13
	extALPN                uint16 = 16
	extExtendedMS          uint16 = 23
	extSupportedVersions   uint16 = 43
	extPSKModes            uint16 = 45
	extKeyShare            uint16 = 51
	extRenegotiationInfo   uint16 = 0xff01
)

type helloExt struct {
	typ  uint16
	data []byte
}

// wireHello describes a ClientHello. The zero value of each field is a
// sensible default only through modernHello / tls12Hello.
type wireHello struct {
	recordVersion uint16 // record layer version
	legacyVersion uint16 // ClientHello.legacy_version
	random        [32]byte
	sessionID     []byte
	suites        []uint16
	compression   []byte
	exts          []helloExt
	noExtensions  bool // omit the extensions block entirely
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// vec8 / vec16 prefix b with its length.
func vec8(b []byte) []byte  { return append([]byte{byte(len(b))}, b...) }
func vec16(b []byte) []byte { return append(u16(uint16(len(b))), b...) }

func u16list(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

func sniExt(name []byte) helloExt {
	entry := append([]byte{0}, vec16(name)...)
	return helloExt{extServerName, vec16(entry)}
}

func groupsExt(gs ...uint16) helloExt { return helloExt{extSupportedGroups, vec16(u16list(gs...))} }
func sigAlgsExt(ss ...uint16) helloExt {
	return helloExt{extSignatureAlgorithms, vec16(u16list(ss...))}
}
func versionsExt(vs ...uint16) helloExt { return helloExt{extSupportedVersions, vec8(u16list(vs...))} }
func pointsExt(ps ...byte) helloExt     { return helloExt{extECPointFormats, vec8(ps)} }

func alpnExt(protos ...string) helloExt {
	var b []byte
	for _, p := range protos {
		b = append(b, vec8([]byte(p))...)
	}
	return helloExt{extALPN, vec16(b)}
}

// x25519KeyShare offers an X25519 share (a fixed valid-looking point).
func x25519KeyShare() helloExt {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(9 + i)
	}
	entry := append(u16(0x001d), vec16(key)...)
	return helloExt{extKeyShare, vec16(entry)}
}

// modernHello is what a TLS 1.3 client (offering 1.2 too) sends for
// "localhost".
func modernHello() *wireHello {
	h := &wireHello{
		recordVersion: 0x0301,
		legacyVersion: 0x0303,
		sessionID:     make([]byte, 32),
		suites:        []uint16{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8},
		compression:   []byte{0},
	}
	for i := range h.random {
		h.random[i] = byte(i * 3)
	}
	h.exts = []helloExt{
		sniExt([]byte("localhost")),
		groupsExt(0x001d, 0x0017, 0x0018),
		pointsExt(0),
		sigAlgsExt(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0807),
		{extExtendedMS, nil},
		{extRenegotiationInfo, []byte{0}},
		versionsExt(0x0304, 0x0303),
		{extPSKModes, []byte{1, 1}},
		x25519KeyShare(),
	}
	return h
}

// tls12Hello offers TLS 1.2 only.
func tls12Hello() *wireHello {
	h := modernHello()
	h.suites = []uint16{0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8}
	h.without(extSupportedVersions, extPSKModes, extKeyShare)
	return h
}

// without drops the extensions of these types.
func (h *wireHello) without(types ...uint16) *wireHello {
	var keep []helloExt
	for _, e := range h.exts {
		drop := false
		for _, t := range types {
			drop = drop || e.typ == t
		}
		if !drop {
			keep = append(keep, e)
		}
	}
	h.exts = keep
	return h
}

// with replaces the extension of e's type (in place) or appends e.
func (h *wireHello) with(e helloExt) *wireHello {
	for i := range h.exts {
		if h.exts[i].typ == e.typ {
			h.exts[i] = e
			return h
		}
	}
	h.exts = append(h.exts, e)
	return h
}

// body is the ClientHello message body (after the handshake header).
func (h *wireHello) body() []byte {
	b := u16(h.legacyVersion)
	b = append(b, h.random[:]...)
	b = append(b, vec8(h.sessionID)...)
	b = append(b, vec16(u16list(h.suites...))...)
	b = append(b, vec8(h.compression)...)
	if !h.noExtensions {
		var ex []byte
		for _, e := range h.exts {
			ex = append(ex, u16(e.typ)...)
			ex = append(ex, vec16(e.data)...)
		}
		b = append(b, vec16(ex)...)
	}
	return b
}

// handshakeMsg wraps a body of handshake type typ.
func handshakeMsg(typ byte, body []byte) []byte {
	n := len(body)
	return append([]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

// message is the whole ClientHello handshake message.
func (h *wireHello) message() []byte { return handshakeMsg(1, h.body()) }

// records puts payload into records of content type typ, at most max
// bytes each.
func records(typ byte, version uint16, payload []byte, max int) []byte {
	var out []byte
	for len(payload) > 0 {
		n := min(max, len(payload))
		out = append(out, typ, byte(version>>8), byte(version))
		out = append(out, u16(uint16(n))...)
		out = append(out, payload[:n]...)
		payload = payload[n:]
	}
	return out
}

// wire is the ClientHello in one record.
func (h *wireHello) wire() []byte { return records(22, h.recordVersion, h.message(), 1<<14) }
