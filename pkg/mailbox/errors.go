package mailbox

import (
	"errors"
	"fmt"
	"syscall"

	"postern/pkg/strerror"
)

// Error is a delivery error; Temp says whether to try again later
// (Postfix defers "4.2.0"-class local problems and bounces "5.2.x").
// DSN is the RFC 3463 status ("4.2.0", "5.2.2"); Text is the reason in
// Postfix's words (see the package documentation for which prefix the
// caller adds).
type Error struct {
	Temp bool
	DSN  string
	Text string
}

func (e *Error) Error() string { return e.Text }

// newError makes an Error of the given status; the status class decides
// whether it is temporary.
func newError(dsn, format string, a ...any) *Error {
	return &Error{Temp: dsn[0] == '4', DSN: dsn, Text: fmt.Sprintf(format, a...)}
}

// errnoDSN maps a system error to a status as Postfix's mbox_dsn() does:
// ENOSPC 4.3.0 (the system is full), EAGAIN and ESTALE 4.2.0 (try again),
// EDQUOT and EFBIG 5.2.2 (the mailbox is full), otherwise def.
func errnoDSN(err error, def string) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return def
	}
	switch errno {
	case syscall.ENOSPC:
		return "4.3.0"
	case syscall.EAGAIN, syscall.ESTALE:
		return "4.2.0"
	case syscall.EDQUOT, syscall.EFBIG:
		return "5.2.2"
	}
	return def
}

// sysError is an Error for a failed system call: text is followed by ": "
// and the error in strerror(3) words (Postfix's "%m"), the status comes
// from errnoDSN.
func sysError(err error, def, text string) *Error {
	return newError(errnoDSN(err, def), "%s: %s", text, strerror.Text(err))
}

// errText renders err as Postfix's %m.
func errText(err error) string { return strerror.Text(err) }
