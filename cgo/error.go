package cgo

// Error is a failed rustls-ffi call: the rustls_result code and what the
// Go side was doing. Detail, when set, says which input was at fault.
type Error struct {
	Code   uint32
	Op     string
	Detail string
}

// Error formats as "op: rustls text (detail)".
func (e *Error) Error() string {
	s := e.Op + ": " + ResultText(e.Code)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}
