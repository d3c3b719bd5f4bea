package rustls

// A small ClientHello reader for the fields rustls-ffi's rustls_accepted
// does not expose (offered versions, groups, point formats, extension
// order). It reads the records the ClientHello path fed to rustls, after
// rustls accepted them, so it only has to be safe, not strict: every read is
// bounds-checked and any inconsistency ends the parse with ok false.

// helloFields is what parseClientHello extracts.
type helloFields struct {
	legacyVersion uint16
	versions      []uint16 // supported_versions; nil when absent
	groups        []uint16 // supported_groups; nil when absent
	points        []uint8  // ec_point_formats; nil when absent
	exts          []uint16 // extension types in the client's order
}

// helloMessage reassembles the first handshake message from TLS records
// (type 22, possibly fragmented over several) and returns it whole, with
// its 4-byte header. ok is false when the records do not hold one.
func helloMessage(records []byte, limit int) (msg []byte, ok bool) {
	r := wireReader{b: records}
	for len(r.b) > 0 {
		typ := r.u8()
		r.u16() // record version
		frag := r.bytes(r.u16())
		if r.bad || typ != 22 {
			return nil, false
		}
		msg = append(msg, frag...)
		if len(msg) >= 4 {
			n := 4 + (int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3]))
			if n > limit {
				return nil, false
			}
			if len(msg) >= n {
				return msg[:n], true
			}
		}
	}
	return nil, false
}

// maxHelloMessage bounds the ClientHello the reader reassembles (rustls
// refuses handshake messages over 64 KiB as well).
const maxHelloMessage = 0xffff + 4

// parseClientHello reads the fields from the records holding a
// ClientHello.
func parseClientHello(records []byte) (helloFields, bool) {
	var f helloFields
	msg, ok := helloMessage(records, maxHelloMessage)
	if !ok {
		return f, false
	}
	r := wireReader{b: msg}
	if r.u8() != 1 { // client_hello
		return f, false
	}
	body := wireReader{b: r.bytes(r.u24())}
	f.legacyVersion = uint16(body.u16())
	body.bytes(32) // random
	body.vec8()    // legacy_session_id
	body.vec16()   // cipher_suites (rustls_accepted has them)
	body.vec8()    // legacy_compression_methods
	if body.bad {
		return helloFields{}, false
	}
	if len(body.b) == 0 { // no extensions block at all
		return f, true
	}
	exts := body.vec16()
	if body.bad || len(body.b) != 0 {
		return helloFields{}, false
	}
	for len(exts.b) > 0 && !exts.bad {
		typ := uint16(exts.u16())
		data := exts.vec16()
		if exts.bad {
			break
		}
		f.exts = append(f.exts, typ)
		switch typ {
		case 43: // supported_versions
			v := data.vec8()
			f.versions = v.u16s()
			data.bad = data.bad || v.bad
		case 10: // supported_groups
			g := data.vec16()
			f.groups = g.u16s()
			data.bad = data.bad || g.bad
		case 11: // ec_point_formats
			p := data.vec8()
			if !p.bad {
				f.points = append([]uint8{}, p.b...)
			}
			data.bad = data.bad || p.bad
		default:
			continue
		}
		if data.bad || len(data.b) != 0 {
			return helloFields{}, false
		}
	}
	if exts.bad {
		return helloFields{}, false
	}
	return f, true
}

// offeredVersions is the version list crypto/tls reports for a
// ClientHello: its supported_versions extension, or else legacy_version
// and every older version down to TLS 1.0.
func (f *helloFields) offeredVersions() []uint16 {
	if len(f.versions) > 0 {
		return f.versions
	}
	var out []uint16
	for _, v := range []uint16{VersionTLS13, VersionTLS12, 0x0302, 0x0301} {
		if v <= f.legacyVersion {
			out = append(out, v)
		}
	}
	return out
}
