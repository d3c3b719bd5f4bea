package rustls

import (
	"io/fs"
	"os"
)

// keyLogEnvVar names the file that KeyLogFromEnv appends secrets to.
const keyLogEnvVar = "SSLKEYLOGFILE"

// OpenKeyLogFile opens name for appending TLS secrets (NSS key log format,
// as KeyLogWriter receives them) so that only its owner can read them: a
// new file is created with mode 0600; an existing regular file that group
// or others may access is tightened to owner-only (its owner bits are
// kept); anything else that group or others may access (a FIFO, a device)
// is refused, and so is a name whose last component is a symbolic link
// (O_NOFOLLOW: a link planted in a shared directory cannot redirect the
// secrets). The file is opened without blocking, so a FIFO whose reader is
// not running is an error rather than a hang. Errors are *Error with
// CodeIO naming the file and wrapping the os error. The caller owns and
// closes the file.
func OpenKeyLogFile(name string) (*os.File, error) {
	const op = "open key log file"
	fail := func(what string, err error) error {
		return &Error{Code: CodeIO, Op: op, Detail: what + " " + name, Err: err}
	}
	f, err := os.OpenFile(name, os.O_CREATE|os.O_APPEND|os.O_WRONLY|syscallNoFollow|syscallNonBlock, 0o600)
	if err != nil {
		return nil, fail("cannot open", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fail("cannot stat", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		if !fi.Mode().IsRegular() {
			f.Close()
			return nil, fail("refusing a non-regular file that others may access:", fs.ErrPermission)
		}
		if err := f.Chmod(perm &^ fs.FileMode(0o077)); err != nil {
			f.Close()
			return nil, fail("cannot make private (it is readable by others)", err)
		}
	}
	return f, nil
}

// prepareKeyLogFile readies the file named by SSLKEYLOGFILE (nothing when
// unset or empty) with OpenKeyLogFile's rules before rustls opens it for
// appending. Failing is a CodeIO error naming the file: the caller asked
// for the secrets, so they are neither lost silently nor left readable by
// others.
func prepareKeyLogFile(op string) error {
	name := os.Getenv(keyLogEnvVar)
	if name == "" {
		return nil
	}
	f, err := OpenKeyLogFile(name)
	if err != nil {
		e := err.(*Error)
		e.Op = op
		e.Detail = "KeyLogFromEnv: " + e.Detail + " (" + keyLogEnvVar + ")"
		return e
	}
	return f.Close()
}
