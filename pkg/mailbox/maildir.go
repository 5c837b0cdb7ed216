package mailbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"postern/pkg/log"
)

// MaildirOptions tune DeliverMaildir.
type MaildirOptions struct {
	SizeLimit int64 // largest file written (mailbox_size_limit applies per file); 0 = none
}

// deliveryCount makes temporary names unique among the deliveries of this
// process that start in the same microsecond.
var deliveryCount atomic.Uint64

// DeliverMaildir writes m into the Maildir dir as c and returns the file's
// name in dir/new/ (a base name, not a path).
//
// Everything is done as c (AsUser). dir must be a directory owned by c.UID,
// not a symbolic link; when it is missing it is created, with its missing
// parents, mode 0700, and so are dir/tmp, dir/new and dir/cur. The message
// (Prepend, then Content, with no From_ line, no >From quoting and no
// blank line added) goes to tmp/SEC.MUSECPpidQn.HOST, created O_EXCL mode
// 0600, is fsynced, then linked to new/SEC.VdevIinoMusec.HOST (the name
// Postfix gives it; unique because the inode is) and the tmp name removed.
//
// Errors carry Postfix's whole reason, "maildir delivery failed: ...".
func DeliverMaildir(dir string, c Creds, m Message, o MaildirOptions) (string, error) {
	host := maildirHost()
	var name string
	err := AsUser(c, func() error {
		var err error
		name, err = deliverMaildir(dir, c, m, o, host)
		return err
	})
	return name, err
}

const maildirFailed = "maildir delivery failed: "

func deliverMaildir(dir string, c Creds, m Message, o MaildirOptions, host string) (string, error) {
	if d := strings.TrimRight(dir, "/"); d != "" {
		dir = d // lstat of "x/" would follow a symbolic link x
	}
	var st unix.Stat_t
	switch err := unix.Lstat(dir, &st); {
	case err == nil:
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return "", newError("5.2.0", maildirFailed+"maildir %s is a symbolic link", dir)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return "", newError("5.2.0", maildirFailed+"maildir %s is not a directory", dir)
		}
		if int(st.Uid) != c.UID {
			return "", newError("4.2.0", maildirFailed+"maildir %s is not owned by recipient", dir)
		}
	case err != unix.ENOENT:
		return "", maildirError(c, err, "5.2.0", maildirFailed+"cannot access maildir "+dir)
	}

	now := time.Now()
	sec, usec := now.Unix(), now.Nanosecond()/1000
	tmp := filepath.Join(dir, "tmp", fmt.Sprintf("%d.M%dP%dQ%d.%s", sec, usec, os.Getpid(), deliveryCount.Add(1), host))
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Open(tmp, flags, 0600)
	if err == unix.ENOENT {
		if err = makeMaildir(dir); err == nil {
			fd, err = unix.Open(tmp, flags, 0600)
		}
	}
	if err != nil {
		return "", maildirError(c, err, "5.2.0", maildirFailed+"create maildir file "+tmp)
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		unix.Unlink(tmp)
		return "", maildirError(c, err, "5.2.0", maildirFailed+"create maildir file "+tmp)
	}
	defer func() {
		if err := unix.Unlink(tmp); err != nil {
			log.Warningf("remove %s: %s", tmp, errText(err))
		}
	}()

	bw := newBuffered(&limitWriter{w: fdWriter(fd), limit: o.SizeLimit})
	werr := copyMessage(bw, m, false)
	if werr == nil {
		werr = bw.Flush()
	}
	if werr == nil {
		werr = unix.Fsync(fd)
	}
	if cerr := unix.Close(fd); werr == nil {
		werr = cerr
	}
	if werr != nil {
		if isRead(werr) {
			return "", sysError(werr, "4.3.0", maildirFailed+"error reading message")
		}
		return "", maildirError(c, werr, "5.2.0", maildirFailed+"error writing message")
	}

	for i := 0; ; i++ {
		name := fmt.Sprintf("%d.V%xI%xM%d.%s", sec, uint64(st.Dev), st.Ino, usec, host)
		if i > 0 { // only if someone else made this very name
			name = fmt.Sprintf("%d.V%xI%xM%dQ%d.%s", sec, uint64(st.Dev), st.Ino, usec, deliveryCount.Add(1), host)
		}
		newPath := filepath.Join(dir, "new", name)
		err := unix.Link(tmp, newPath)
		if err == unix.ENOENT {
			if err = makeMaildir(dir); err == nil {
				err = unix.Link(tmp, newPath)
			}
		}
		if err == unix.EEXIST && i < 3 {
			continue
		}
		if err != nil {
			return "", maildirError(c, err, "5.2.0", maildirFailed+"create maildir file "+newPath)
		}
		return name, nil
	}
}

// makeDirs creates dir and its missing parents, mode 0700 (Postfix's
// make_dirs); an existing directory is fine.
func makeDirs(dir string) error {
	err := os.MkdirAll(dir, 0700)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// makeMaildir creates what is missing of dir/tmp, dir/new and dir/cur.
func makeMaildir(dir string) error {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := makeDirs(filepath.Join(dir, sub)); err != nil {
			return err
		}
	}
	return nil
}

// maildirError is sysError plus Postfix's advice when permission is denied.
func maildirError(c Creds, err error, def, text string) *Error {
	e := sysError(err, def, text)
	if errors.Is(err, unix.EACCES) {
		log.Warningf("maildir access problem for UID/GID=%d/%d: %s", c.UID, c.GID, e.Text)
		log.Warningf("perhaps you need to create the maildirs in advance")
	}
	return e
}

var hostOnce = sync.OnceValue(func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	// The Maildir convention: "/" and ":" cannot appear in the host part.
	return strings.NewReplacer("/", `\057`, ":", `\072`).Replace(h)
})

// maildirHost is the system host name (not myhostname), as Postfix uses.
func maildirHost() string { return hostOnce() }
