package rustls

import (
	"crypto/tls"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkParseAgainstCryptoTLS asserts that parseClientHello reads wire as
// crypto/tls does whenever crypto/tls reads it, and never panics.
func checkParseAgainstCryptoTLS(t *testing.T, wire []byte) {
	t.Helper()
	f, ok := parseClientHello(wire)
	want, wantOK := cryptoTLSHelloInfo(wire)
	if !wantOK {
		return
	}
	require.True(t, ok, "crypto/tls reads a ClientHello the parser refuses: %x", wire)
	if len(want.SupportedVersions) > 0 || len(f.offeredVersions()) > 0 { // nil and empty alike
		assert.Equal(t, want.SupportedVersions, f.offeredVersions(), "versions")
	}
	var curves []tls.CurveID
	for _, g := range f.groups {
		curves = append(curves, tls.CurveID(g))
	}
	assert.Equal(t, want.SupportedCurves, curves, "curves")
	assert.Equal(t, want.SupportedPoints, f.points, "points")
	assert.Equal(t, want.Extensions, f.exts, "extensions")
}

func helloSeeds(t testing.TB) [][]byte {
	msg := modernHello().message()
	seeds := [][]byte{
		modernHello().wire(),
		tls12Hello().wire(),
		records(22, 0x0301, msg, 7),
		goClientHello(t, &tls.Config{ServerName: "a.test", InsecureSkipVerify: true}),
		goClientHello(t, &tls.Config{ServerName: "a.test", InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, NextProtos: []string{"h2"}}),
		func() []byte { h := modernHello(); h.noExtensions = true; return h.wire() }(),
		func() []byte { h := tls12Hello(); h.legacyVersion = 0x0301; return h.wire() }(),
		func() []byte { h := modernHello(); h.with(pointsExt(0, 1, 2)); return h.wire() }(),
		append(modernHello().wire(), 23, 3, 3, 0, 1, 0),
	}
	return seeds
}

func TestParseClientHelloMatchesCryptoTLS(t *testing.T) {
	for i, w := range helloSeeds(t) {
		f, ok := parseClientHello(w)
		require.True(t, ok, "seed %d", i)
		assert.NotEmpty(t, f.offeredVersions(), "seed %d", i)
		checkParseAgainstCryptoTLS(t, w)
	}
	f, ok := parseClientHello(modernHello().wire())
	require.True(t, ok)
	assert.Equal(t, []uint16{0x0304, 0x0303}, f.versions)
	assert.Equal(t, []uint16{0x001d, 0x0017, 0x0018}, f.groups)
	assert.Equal(t, []uint8{0}, f.points)
	assert.Equal(t, []uint16{extServerName, extSupportedGroups, extECPointFormats, extSignatureAlgorithms,
		extExtendedMS, extRenegotiationInfo, extSupportedVersions, extPSKModes, extKeyShare}, f.exts)

	// Without supported_versions, versions come from legacy_version.
	h := tls12Hello()
	f, ok = parseClientHello(h.wire())
	require.True(t, ok)
	assert.Nil(t, f.versions)
	assert.Equal(t, []uint16{0x0303, 0x0302, 0x0301}, f.offeredVersions())
}

func TestParseClientHelloRefusesBrokenInput(t *testing.T) {
	full := modernHello().wire()
	for name, w := range map[string][]byte{
		"empty":           nil,
		"header only":     full[:5],
		"truncated":       full[:len(full)-3],
		"not handshake":   append([]byte{23}, full[1:]...),
		"not ClientHello": records(22, 0x0301, handshakeMsg(2, modernHello().body()), 1<<14),
		"odd groups": func() []byte {
			h := modernHello()
			h.with(helloExt{extSupportedGroups, vec16([]byte{0, 1, 2})})
			return h.wire()
		}(),
		"versions overrun": func() []byte {
			h := modernHello()
			h.with(helloExt{extSupportedVersions, []byte{9, 3, 4}})
			return h.wire()
		}(),
		"trailing bytes": records(22, 0x0301, handshakeMsg(1, append(modernHello().body(), 0)), 1<<14),
		"huge length":    {22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff},
	} {
		_, ok := parseClientHello(w)
		assert.False(t, ok, name)
	}
}

func FuzzParseClientHello(f *testing.F) {
	for _, s := range helloSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		fields, ok := parseClientHello(wire)
		if ok {
			// Every list is bounded by the input.
			n := len(fields.versions)*2 + len(fields.groups)*2 + len(fields.points) + len(fields.exts)*4
			require.LessOrEqual(t, n, len(wire))
		}
		checkParseAgainstCryptoTLS(t, wire)
	})
}
