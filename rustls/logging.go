package rustls

import (
	"context"
	"errors"
	"log/slog"
	"net"
)

// logConnError writes one record about conn's failure to logger (nothing
// when logger is nil): attributes "remote" (conn's peer address, when conn
// is not nil), "error" (err itself, so a handler can inspect it) and, when
// err wraps a *PanicError, "stack" (the panicking goroutine's stack). The
// logger is user code run on a connection's goroutine: a panic in its
// handler is recovered here and the record lost.
func logConnError(logger *slog.Logger, level slog.Level, msg string, conn net.Conn, err error) {
	if logger == nil {
		return
	}
	defer func() { _ = recover() }()
	attrs := make([]slog.Attr, 0, 3)
	if conn != nil {
		if ra := conn.RemoteAddr(); ra != nil {
			attrs = append(attrs, slog.String("remote", ra.String()))
		}
	}
	attrs = append(attrs, slog.Any("error", err))
	var p *PanicError
	if errors.As(err, &p) && p.Stack != nil {
		attrs = append(attrs, slog.String("stack", string(p.Stack)))
	}
	logger.LogAttrs(context.Background(), level, msg, attrs...)
}
