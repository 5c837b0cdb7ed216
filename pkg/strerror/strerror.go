// Package strerror renders an error the way C's strerror(3) and Postfix's
// "%m" do ("No such file or directory"), so that postern's messages match
// Postfix's word for word. Go's own texts for errno values are the same
// words in lower case; a *PathError is reduced to its errno.
package strerror

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
)

// Text returns err as strerror(3) would print it; an error that carries no
// errno is printed as Go prints it.
func Text(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if s := errno.Error(); s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return err.Error()
}
