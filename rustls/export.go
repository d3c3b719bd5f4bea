package rustls

import "errors"

// ExportKeyingMaterial would return length bytes of keying material
// derived from the connection's secrets (RFC 5705 / RFC 8446 7.5), as
// crypto/tls's ConnectionState.ExportKeyingMaterial does. rustls-ffi 0.15
// offers no exporter, so it always fails: the error is an *Error whose
// Err is errors.ErrUnsupported (errors.Is(err, errors.ErrUnsupported)).
// It never panics, unlike the ExportKeyingMaterial method of the state
// ConnectionState returns (a tls.ConnectionState made outside crypto/tls
// has no exporter and panics when asked).
func (s *Stream) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	return nil, &Error{Op: "export keying material",
		Detail: "rustls-ffi 0.15 has no keying-material exporter (RFC 5705); protocols that need channel binding cannot use gorustls yet",
		Err:    errors.ErrUnsupported}
}
