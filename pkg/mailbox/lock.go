package mailbox

import (
	"math/rand/v2"
	"time"

	"golang.org/x/sys/unix"
)

// Postfix's stale_lock_time: a dotlock older than this is removed. A
// variable so that tests can shorten it.
var staleLockTime = 500 * time.Second

// defaultLockTimeout is deliver_lock_attempts (20) × deliver_lock_delay (1s).
const defaultLockTimeout = 20 * time.Second

// retry calls try until it succeeds, fails with an error busy does not
// accept, or timeout has passed, sleeping about a second (less for a short
// timeout, randomised as Postfix's rand_sleep) between tries.
func retry(timeout time.Duration, busy func(error) bool, try func() error) error {
	deadline := time.Now().Add(timeout)
	delay := min(time.Second, timeout/10)
	for {
		err := try()
		if err == nil || !busy(err) {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return err
		}
		d := delay/2 + rand.N(delay+1)
		time.Sleep(min(d, left))
	}
}

// dotLock creates path.lock with O_EXCL (mode 0, as Postfix's
// dot_lockfile), removing a lock older than staleLockTime, and retrying
// while another holds it. The error is EEXIST when the lock stayed busy.
func dotLock(lock string, timeout time.Duration) error {
	return retry(timeout, func(err error) bool { return err == unix.EEXIST }, func() error {
		fd, err := unix.Open(lock, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0)
		if err == nil {
			return unix.Close(fd)
		}
		if err != unix.EEXIST {
			return err
		}
		var st unix.Stat_t
		if unix.Stat(lock, &st) == nil {
			ctime := time.Unix(st.Ctim.Unix())
			if time.Now().After(ctime.Add(staleLockTime)) {
				if uerr := unix.Unlink(lock); uerr != nil && uerr != unix.ENOENT {
					return uerr // cannot break a stale lock: give up
				}
			}
		}
		return err
	})
}

func lockBusy(err error) bool { return err == unix.EAGAIN || err == unix.EACCES }

// flockLock takes an exclusive flock(2) lock on fd, retrying while busy.
func flockLock(fd int, timeout time.Duration) error {
	return retry(timeout, lockBusy, func() error {
		return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	})
}

// fcntlLock takes an exclusive fcntl(2) lock on the whole of fd, retrying
// while busy. It is an open file description lock (F_OFD_SETLK): it
// conflicts with the classic fcntl locks of other programs (mutt,
// procmail, Postfix) like those do, but, unlike them, also with another
// delivery to the same file by this process, which classic locks, owned by
// the whole process, would let through.
func fcntlLock(fd int, timeout time.Duration) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	return retry(timeout, lockBusy, func() error {
		return unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
	})
}
