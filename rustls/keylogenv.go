package rustls

import (
	"io/fs"
	"os"
)

// keyLogEnvVar names the file that KeyLogFromEnv appends secrets to.
const keyLogEnvVar = "SSLKEYLOGFILE"

// prepareKeyLogFile readies the file named by SSLKEYLOGFILE (nothing when
// unset or empty) before rustls opens it for appending: it is created
// with mode 0600 (O_CREATE|O_APPEND|O_WRONLY, as the gorustls command's
// -keylog does), and an existing regular file that group or others may
// access is tightened to owner-only (its owner bits are kept). Other files
// (a FIFO, a terminal) are left as they are. Failing to open or to tighten
// it is a CodeIO error naming the file: the caller asked for the secrets,
// so they are neither lost silently nor left readable by others.
func prepareKeyLogFile(op string) error {
	name := os.Getenv(keyLogEnvVar)
	if name == "" {
		return nil
	}
	fail := func(what string, err error) error {
		return &Error{Code: CodeIO, Op: op, Detail: "KeyLogFromEnv: " + what + " " + name + " (" + keyLogEnvVar + ")", Err: err}
	}
	f, err := os.OpenFile(name, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fail("cannot open", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail("cannot stat", err)
	}
	if perm := fi.Mode().Perm(); fi.Mode().IsRegular() && perm&0o077 != 0 {
		if err := f.Chmod(perm &^ fs.FileMode(0o077)); err != nil {
			return fail("cannot make private (it is readable by others)", err)
		}
	}
	return nil
}
