package rustls

import (
	"fmt"
	"net/netip"
)

// checkServerName refuses, before any C call, a server name that is not an
// IP address or a DNS name in ASCII (A-labels for internationalised names).
// C strings end at the first NUL, so a name such as
// "localhost\x00.attacker.example" would be checked by rustls as
// "localhost" while the Stream reports the whole string: such names, and
// any other byte that cannot appear in a host name, are refused with
// CodeInvalidDNSName (errors.Is(err, ErrInvalidInput)).
func checkServerName(op, name string) error {
	bad := func(why string) error {
		return &Error{Code: CodeInvalidDNSName, Op: op, Detail: fmt.Sprintf("server name %q: %s", name, why)}
	}
	if name == "" {
		return bad("empty")
	}
	if _, err := netip.ParseAddr(name); err == nil {
		if len(name) > 0 && name[0] == '[' {
			return bad("IPv6 literal in brackets; pass the address without them")
		}
		return nil
	}
	if len(name) > 253 {
		return bad("longer than 253 bytes")
	}
	label := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == 0:
			return bad(fmt.Sprintf("NUL byte at offset %d", i))
		case c == '.':
			if label == 0 && !(i == len(name)-1 && i > 0) {
				return bad("empty label")
			}
			label = 0
			continue
		case c >= 0x80:
			return bad("not ASCII: convert internationalised names to A-labels (punycode) first, as golang.org/x/net/idna does")
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return bad(fmt.Sprintf("byte %q at offset %d cannot appear in a host name", c, i))
		}
		label++
		if label > 63 {
			return bad("a label is longer than 63 bytes")
		}
	}
	return nil
}
