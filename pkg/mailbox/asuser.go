package mailbox

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Creds is whom a delivery runs as.
type Creds struct {
	UID, GID int
	Groups   []int // supplementary groups; none when empty
}

// AsUser runs fn with the credentials c and returns fn's error.
//
// As root, fn runs on a new goroutine locked to its own OS thread, and only
// that thread changes its IDs (the raw setgroups, setresgid and setresuid
// system calls act on the calling thread alone in Linux; Go's
// syscall.Setuid would change every thread). The goroutine never unlocks
// the thread, so the thread dies with it and the rest of the process keeps
// its IDs (the runtime also never clones a new thread from a locked one,
// and the main thread, which never exits, is never switched). fn must do
// its file-system work itself, on its own goroutine: a goroutine it starts
// runs with the process's IDs. Do not nest AsUser calls: inside fn the
// process no longer looks like root.
//
// When the process is not root, fn runs as the current user without a
// switch, but a c.UID other than the current one is refused with a
// temporary Error "cannot deliver as uid N when not running as root".
func AsUser(c Creds, fn func() error) error {
	if euid := os.Geteuid(); euid != 0 {
		if c.UID != euid {
			return newError("4.3.0", "cannot deliver as uid %d when not running as root", c.UID)
		}
		return fn()
	}
	done := make(chan error, 1)
	go runAs(c, fn, done)
	return <-done
}

// runAs runs fn as c on the calling goroutine's own thread, which it then
// lets die.
func runAs(c Creds, fn func() error, done chan<- error) {
	// Never unlocked: the thread, with its changed IDs, exits with this
	// goroutine instead of going back to the scheduler.
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		// The main thread never exits (the runtime parks it forever),
		// and /proc shows its IDs as the process's. Hold it, so that
		// the new goroutine gets another thread, and give it back.
		inner := make(chan struct{})
		go func() {
			runAs(c, fn, done)
			close(inner)
		}()
		<-inner
		runtime.UnlockOSThread()
		return
	}
	if err := setThreadCreds(c); err != nil {
		done <- newError("4.3.0", "cannot set privileges to uid %d gid %d: %s", c.UID, c.GID, errText(err))
		return
	}
	done <- fn()
}

// setThreadCreds gives the calling thread the groups, then the gid, then
// the uid of c (real, effective and saved), in the order that keeps the
// privilege to do the next step.
func setThreadCreds(c Creds) error {
	gids := make([]uint32, len(c.Groups))
	for i, g := range c.Groups {
		gids[i] = uint32(g)
	}
	var p unsafe.Pointer
	if len(gids) > 0 {
		p = unsafe.Pointer(&gids[0])
	}
	if _, _, e := unix.RawSyscall(sysSetgroups, uintptr(len(gids)), uintptr(p), 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	g := uintptr(c.GID)
	if _, _, e := unix.RawSyscall(sysSetresgid, g, g, g); e != 0 {
		return fmt.Errorf("setresgid: %w", e)
	}
	u := uintptr(c.UID)
	if _, _, e := unix.RawSyscall(sysSetresuid, u, u, u); e != 0 {
		return fmt.Errorf("setresuid: %w", e)
	}
	return nil
}
