//go:build linux && !386 && !arm

package mailbox

import "golang.org/x/sys/unix"

// The system calls that change the credentials of the calling thread only.
// The C library's wrappers (and Go's syscall.Setuid) broadcast the change
// to every thread of the process; the raw system calls do not.
const (
	sysSetgroups = unix.SYS_SETGROUPS
	sysSetresgid = unix.SYS_SETRESGID
	sysSetresuid = unix.SYS_SETRESUID
)
