package rustls

import (
	"context"
	"net"
)

// Checks of the arguments every entry point shares, so that a careless
// caller (a nil context, a nil net.Conn, a config that is the zero value
// rather than one from NewServerConfig or NewClientConfig) gets an *Error
// matching ErrInvalidInput instead of a nil-pointer panic deep inside.

// checkConnCtx refuses a nil context or a nil transport.
func checkConnCtx(op string, ctx context.Context, conn net.Conn) error {
	if ctx == nil {
		return inputErr(op, "nil context.Context")
	}
	return checkConn(op, conn)
}

// checkConn refuses a nil transport.
func checkConn(op string, conn net.Conn) error {
	if conn == nil {
		return inputErr(op, "nil net.Conn")
	}
	return nil
}

// closeConn closes conn unless it is nil (an entry point that refused a
// nil transport has nothing to close).
func closeConn(conn net.Conn) {
	if conn != nil {
		_ = conn.Close()
	}
}

// check refuses a nil ServerConfig or one not made by NewServerConfig.
func (c *ServerConfig) check(op string) error {
	if c == nil {
		return inputErr(op, "nil ServerConfig")
	}
	if c.life == nil || c.c == nil {
		return inputErr(op, "the ServerConfig was not made by NewServerConfig (a zero value)")
	}
	return nil
}

// check refuses a nil ClientConfig or one not made by NewClientConfig.
func (c *ClientConfig) check(op string) error {
	if c == nil {
		return inputErr(op, "nil ClientConfig")
	}
	if c.life == nil || c.c == nil {
		return inputErr(op, "the ClientConfig was not made by NewClientConfig (a zero value)")
	}
	return nil
}
