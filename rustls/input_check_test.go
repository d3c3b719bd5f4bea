package rustls

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestCloseZeroAndNilConfigs: Close on a config that New*Config did not
// make (a zero value, or nil) does nothing instead of panicking, like the
// entry points that refuse such configs with ErrInvalidInput.
func TestCloseZeroAndNilConfigs(t *testing.T) {
	assert.NotPanics(t, func() { assert.NoError(t, (&ServerConfig{}).Close()) })
	assert.NotPanics(t, func() { assert.NoError(t, (&ClientConfig{}).Close()) })
	assert.NotPanics(t, func() { assert.NoError(t, (*ServerConfig)(nil).Close()) })
	assert.NotPanics(t, func() { assert.NoError(t, (*ClientConfig)(nil).Close()) })
}
