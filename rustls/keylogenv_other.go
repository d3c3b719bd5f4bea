//go:build !unix

package rustls

// No O_NOFOLLOW or O_NONBLOCK here.
const (
	syscallNoFollow = 0
	syscallNonBlock = 0
)
