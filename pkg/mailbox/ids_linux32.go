//go:build linux && (386 || arm)

package mailbox

import "golang.org/x/sys/unix"

// On 386 and arm the calls with 32-bit IDs have their own numbers.
const (
	sysSetgroups = unix.SYS_SETGROUPS32
	sysSetresgid = unix.SYS_SETRESGID32
	sysSetresuid = unix.SYS_SETRESUID32
)
