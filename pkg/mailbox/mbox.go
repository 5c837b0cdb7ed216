package mailbox

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"postern/pkg/log"
)

// MboxOptions tune DeliverMbox. The zero value delivers to a mailbox in
// the user's own directory with no locks and no size limit.
type MboxOptions struct {
	SizeLimit int64 // mailbox_size_limit; 0 = none

	// mailbox_delivery_lock: which locks to take (Postfix's Linux
	// default is fcntl and dotlock).
	DotLock, FcntlLock, FlockLock bool

	CreateMode  os.FileMode   // mode of a new file; 0 means 0600
	LockTimeout time.Duration // how long to retry each busy lock; 0 means 20s (deliver_lock_attempts × deliver_lock_delay)

	// Spool says path is $mail_spool_directory/$user. Its directory's
	// mode then decides the privileges for the lock and open, as in
	// Postfix: world-writable (1777): the recipient; group-writable
	// (Debian's 2775 root:mail): the recipient's uid with the
	// directory's group; otherwise root, and a new mailbox is chowned
	// to the recipient. Without Spool everything is done as the
	// recipient (a $HOME mailbox).
	Spool bool

	// File selects Postfix's rules for a /file/name delivery (alias,
	// :include: or .forward) instead of a mailbox: a dotlock that
	// cannot be created (other than because it is busy) only warns;
	// a file that is not regular (/dev/null) is written without locks,
	// fsync or truncation; an executable file is refused; the file may
	// have any owner.
	File bool

	// NoStrictOwnership is strict_mailbox_ownership = no: an existing
	// mailbox owned by someone other than the recipient is written.
	NoStrictOwnership bool
}

// DeliverMbox appends m to the mbox file at path as c. It must be called
// outside AsUser: it calls AsUser itself for each step, as the user the
// step needs (see MboxOptions.Spool).
//
// The steps, as Postfix's mbox_open, safe_open and mail_copy:
//
//   - dotlock path.lock (when DotLock and path is a regular file or
//     missing), O_EXCL, removing one older than 500 s, retrying while busy;
//   - open path O_WRONLY|O_APPEND|O_NOFOLLOW. An existing file must have
//     one link, and lstat must match fstat; a symbolic link is refused
//     unless it is root's in a root-owned directory writable by no one
//     else. A missing file is created O_CREAT|O_EXCL (CreateMode) and
//     checked again;
//   - flock and/or fcntl lock (regular files), retrying while busy;
//   - as the recipient: refuse a file that is not regular or not the
//     recipient's (mailboxes), or an executable one (File);
//   - append the From_ line, Prepend, the content with ">From " quoting,
//     a newline if the content lacks a final one, and one empty line,
//     refusing to grow the file beyond SizeLimit; fsync; on any error,
//     truncate the file back to its size before the delivery.
//
// Errors are *Error; their Text is the reason without the caller's
// context: local prefixes "cannot update mailbox PATH for user USER. "
// (mailbox) or "cannot append message to file PATH: " (File).
func DeliverMbox(path string, c Creds, m Message, o MboxOptions) error {
	if o.CreateMode == 0 {
		o.CreateMode = 0600
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = defaultLockTimeout
	}
	openAs, chown := c, false
	if o.Spool && !o.File && os.Geteuid() == 0 {
		var st unix.Stat_t
		if err := unix.Stat(filepath.Dir(path), &st); err == nil && st.Mode&0002 == 0 {
			if st.Mode&0020 != 0 {
				openAs = Creds{UID: c.UID, GID: int(st.Gid), Groups: []int{int(st.Gid)}}
			} else {
				openAs, chown = Creds{UID: 0, GID: 0, Groups: []int{0}}, c.UID != 0
			}
		}
	}

	var mb *mbox
	err := AsUser(openAs, func() error {
		var err error
		mb, err = openMbox(path, c, chown, o)
		return err
	})
	if err != nil {
		return err
	}
	err = AsUser(c, func() error { return mb.append(c, m, o) })
	if cerr := unix.Close(mb.fd); cerr != nil && err == nil && mb.regular() {
		err = sysError(cerr, "5.2.0", "error writing message")
	}
	if mb.dotLock != "" {
		AsUser(openAs, func() error {
			unix.Unlink(mb.dotLock)
			return nil
		})
	}
	return err
}

// mbox is an open, locked mbox file.
type mbox struct {
	path    string
	fd      int
	st      unix.Stat_t
	dotLock string // the lock file to remove, if we made one
}

func (mb *mbox) regular() bool { return mb.st.Mode&unix.S_IFMT == unix.S_IFREG }

// openMbox locks and opens path (mbox_open).
func openMbox(path string, c Creds, chown bool, o MboxOptions) (*mbox, error) {
	mb := &mbox{path: path, fd: -1}
	if o.DotLock {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil || st.Mode&unix.S_IFMT == unix.S_IFREG {
			lock := path + ".lock"
			switch err := dotLock(lock, o.LockTimeout); {
			case err == nil:
				mb.dotLock = lock
			case err == unix.EEXIST:
				return nil, newError(errnoDSN(unix.EAGAIN, "5.2.0"), "unable to create lock file %s: %s", lock, errText(err))
			case o.File:
				log.Warningf("unable to create lock file %s: %s", lock, errText(err))
			default:
				return nil, sysError(err, "5.2.0", "unable to create lock file "+lock)
			}
		}
	}
	fail := func(err *Error) (*mbox, error) {
		if mb.fd >= 0 {
			unix.Close(mb.fd)
		}
		if mb.dotLock != "" {
			unix.Unlink(mb.dotLock)
		}
		return nil, err
	}
	var owner *Creds
	if chown {
		owner = &c
	}
	fd, err := safeOpen(path, o.CreateMode, owner, &mb.st)
	if err != nil {
		return fail(err)
	}
	mb.fd = fd
	if mb.regular() {
		if o.FlockLock {
			if err := flockLock(fd, o.LockTimeout); err != nil {
				return fail(sysError(err, "5.2.0", "unable to lock for exclusive access"))
			}
		}
		if o.FcntlLock {
			if err := fcntlLock(fd, o.LockTimeout); err != nil {
				return fail(sysError(err, "5.2.0", "unable to lock for exclusive access"))
			}
		}
	}
	return mb, nil
}

const openFlags = unix.O_WRONLY | unix.O_APPEND | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC

// safeOpen opens path for appending, or creates it when missing, refusing
// what Postfix's safe_open refuses, and fills st with the open file's
// status. A new file is chowned to owner when that is set.
func safeOpen(path string, mode os.FileMode, owner *Creds, st *unix.Stat_t) (int, *Error) {
	fd, err := openExisting(path, st)
	if err != nil && err.errno == unix.ENOENT {
		fd, err = createExclusive(path, mode, owner, st)
		if err != nil && err.errno == unix.EEXIST {
			fd, err = openExisting(path, st) // lost a race with another creator
		}
	}
	if err != nil {
		return -1, newError(errnoDSN(err.errno, "5.2.0"), "%s", err.text)
	}
	// O_NONBLOCK only guarded the open against a FIFO without reader.
	unix.SetNonblock(fd, false)
	return fd, nil
}

type openError struct {
	errno error
	text  string
}

func openErr(errno error, format string, a ...any) *openError {
	return &openError{errno, fmt.Sprintf(format, a...)}
}

// openExisting is safe_open_exist.
func openExisting(path string, st *unix.Stat_t) (int, *openError) {
	fd, err := unix.Open(path, openFlags|unix.O_NOFOLLOW, 0)
	trusted := false
	if err == unix.ELOOP {
		var lst unix.Stat_t
		if unix.Lstat(path, &lst) == nil && lst.Mode&unix.S_IFMT == unix.S_IFLNK {
			// A symbolic link is followed only when root made it in a
			// directory no one else can write.
			var pst unix.Stat_t
			if lst.Uid == 0 && unix.Stat(filepath.Dir(path), &pst) == nil && pst.Uid == 0 && pst.Mode&0022 == 0 {
				fd, err = unix.Open(path, openFlags, 0)
				trusted = true
			} else {
				return -1, openErr(unix.EPERM, "file is a symbolic link")
			}
		}
	}
	if err != nil {
		return -1, openErr(err, "cannot open file: %s", errText(err))
	}
	if err := unix.Fstat(fd, st); err != nil {
		unix.Close(fd)
		return -1, openErr(err, "cannot open file: %s", errText(err))
	}
	var lst unix.Stat_t
	var oerr *openError
	switch {
	case st.Nlink != 1:
		oerr = openErr(unix.EPERM, "file has %d hard links", st.Nlink)
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		oerr = openErr(unix.EISDIR, "file is a directory")
	case trusted:
	default:
		if err := unix.Lstat(path, &lst); err != nil {
			oerr = openErr(unix.EPERM, "file status changed unexpectedly: %s", errText(err))
		} else if !sameFile(st, &lst) {
			oerr = openErr(unix.EPERM, "file status changed unexpectedly")
		}
	}
	if oerr != nil {
		unix.Close(fd)
		return -1, oerr
	}
	return fd, nil
}

func sameFile(a, b *unix.Stat_t) bool {
	return a.Dev == b.Dev && a.Ino == b.Ino && a.Nlink == b.Nlink && a.Mode == b.Mode
}

// createExclusive is safe_open_create, plus a check that the name still
// refers to the file made.
func createExclusive(path string, mode os.FileMode, owner *Creds, st *unix.Stat_t) (int, *openError) {
	fd, err := unix.Open(path, openFlags|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, uint32(mode.Perm()))
	if err != nil {
		return -1, openErr(err, "cannot create file exclusively: %s", errText(err))
	}
	if owner != nil {
		if err := unix.Fchown(fd, owner.UID, owner.GID); err != nil {
			log.Warningf("cannot change file ownership: %s", errText(err))
		}
	}
	var lst unix.Stat_t
	if err := unix.Fstat(fd, st); err != nil {
		unix.Close(fd)
		return -1, openErr(err, "cannot create file exclusively: %s", errText(err))
	}
	if err := unix.Lstat(path, &lst); err != nil || !sameFile(st, &lst) {
		unix.Close(fd)
		return -1, openErr(unix.EPERM, "file status changed unexpectedly")
	}
	return fd, nil
}

// append checks the open file as the recipient and writes the message
// (the rest of Postfix's deliver_mailbox_file / deliver_file, and
// mail_copy).
func (mb *mbox) append(c Creds, m Message, o MboxOptions) error {
	regular := mb.regular()
	switch {
	case o.File:
		if mb.st.Mode&0111 != 0 {
			return newError("5.7.1", "file is executable")
		}
	case !regular:
		return newError("5.2.0", "destination %s is not a regular file", mb.path)
	case !o.NoStrictOwnership && int(mb.st.Uid) != c.UID:
		log.Warningf("specify \"strict_mailbox_ownership = no\" to ignore mailbox ownership mismatch")
		return newError("4.2.0", "destination %s is not owned by recipient", mb.path)
	}
	var end int64
	lw := &limitWriter{w: fdWriter(mb.fd)}
	if regular {
		var err error
		if end, err = unix.Seek(mb.fd, 0, 2); err != nil {
			return sysError(err, "5.2.0", "error writing message")
		}
		lw.size, lw.limit = end, o.SizeLimit
	}
	bw := newBuffered(lw)
	bw.WriteString(FromLine(m.Sender, m.ArrivalTime))
	err := copyMessage(bw, m, true)
	if err == nil {
		bw.WriteByte('\n')
		err = bw.Flush()
	}
	if err == nil && regular {
		err = unix.Fsync(mb.fd)
	}
	if err != nil && regular {
		if terr := unix.Ftruncate(mb.fd, end); terr != nil {
			log.Warningf("truncate %s: %s", mb.path, errText(terr))
		}
	}
	switch {
	case err == nil:
		return nil
	case isRead(err):
		return sysError(err, "4.3.0", "error reading message")
	default:
		return sysError(err, "5.2.0", "error writing message")
	}
}
