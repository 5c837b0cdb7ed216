package local

// Stand-ins for postern/pkg/mailbox, which is being written beside this
// package: the same names and shapes, so that switching to the package is
// a matter of type aliases. TODO(lead): replace with pkg/mailbox.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Creds are the IDs a delivery runs with.
type Creds struct {
	UID, GID int
	Groups   []int
}

// Message is what a mailbox delivery writes.
type Message struct {
	Sender      string
	ArrivalTime time.Time
	Prepend     []byte
	Content     io.Reader
}

// MailboxError is a delivery failure with its status.
type MailboxError struct {
	Temp bool
	DSN  string
	Text string
}

func (e *MailboxError) Error() string { return e.Text }

// MboxOptions control an mbox delivery.
type MboxOptions struct {
	SizeLimit                     int64
	DotLock, FcntlLock, FlockLock bool
	CreateMode                    os.FileMode
	LockTimeout                   time.Duration
}

// MaildirOptions control a Maildir delivery.
type MaildirOptions struct{ SizeLimit int64 }

// asUser runs fn on a dedicated OS thread whose effective IDs are c's.
// The thread is never given back to the Go scheduler: it ends with the
// goroutine, so no other goroutine ever runs with the changed IDs.
func asUser(c Creds, fn func() error) error {
	euid := os.Geteuid()
	if euid != 0 {
		if c.UID != euid {
			return fmt.Errorf("cannot switch to uid %d: not running as root", c.UID)
		}
		return fn()
	}
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with us
		groups := make([]uint32, 0, len(c.Groups))
		for _, g := range c.Groups {
			groups = append(groups, uint32(g))
		}
		var p unsafe.Pointer
		if len(groups) > 0 {
			p = unsafe.Pointer(&groups[0])
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(p), 0); e != 0 {
			ch <- fmt.Errorf("setgroups: %v", e)
			return
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, ^uintptr(0), uintptr(c.GID), ^uintptr(0)); e != 0 {
			ch <- fmt.Errorf("setresgid %d: %v", c.GID, e)
			return
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(c.UID), ^uintptr(0)); e != 0 {
			ch <- fmt.Errorf("setresuid %d: %v", c.UID, e)
			return
		}
		ch <- fn()
	}()
	return <-ch
}

// deliverMbox appends m to the mbox file path as c (stand-in: fcntl lock
// only, no dotlock).
func deliverMbox(path string, c Creds, m Message, o MboxOptions) error {
	return asUser(c, func() error {
		mode := o.CreateMode
		if mode == 0 {
			mode = 0600
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, mode)
		if err != nil {
			if errors.Is(err, syscall.ELOOP) {
				return &MailboxError{DSN: "5.2.0", Text: "file is a symbolic link"}
			}
			return errnoError("5.2.0", "cannot open file: ", err)
		}
		defer f.Close()
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return errnoError("5.2.0", "cannot fstat: ", err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return &MailboxError{DSN: "5.2.0", Text: "file is not a regular file"}
		}
		if st.Nlink != 1 {
			return &MailboxError{DSN: "5.2.0", Text: fmt.Sprintf("file has %d hard links", st.Nlink)}
		}
		if int(st.Uid) != c.UID {
			return &MailboxError{Temp: true, DSN: "4.2.0", Text: fmt.Sprintf("destination %s is not owned by recipient", path)}
		}
		if err := unix.FcntlFlock(f.Fd(), unix.F_SETLKW, &unix.Flock_t{Type: unix.F_WRLCK}); err != nil {
			return &MailboxError{Temp: true, DSN: "4.2.0", Text: "unable to lock for exclusive access: " + err.Error()}
		}
		size := st.Size
		sender := m.Sender
		if sender == "" {
			sender = "MAILER-DAEMON"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "From %s  %s\n", sender, time.Now().Format("Mon Jan _2 15:04:05 2006"))
		b.Write(m.Prepend)
		data, err := io.ReadAll(m.Content)
		if err != nil {
			return &MailboxError{Temp: true, DSN: "4.3.0", Text: "error reading message: " + err.Error()}
		}
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if strings.HasPrefix(line, "From ") {
				b.WriteByte('>')
			}
			b.WriteString(line)
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
		if o.SizeLimit > 0 && size+int64(b.Len()) > o.SizeLimit {
			return &MailboxError{DSN: "5.2.2", Text: "error writing message: File too large"}
		}
		if _, err := f.WriteString(b.String()); err != nil {
			f.Truncate(size)
			return errnoError("5.2.0", "error writing message: ", err)
		}
		if err := f.Sync(); err != nil {
			f.Truncate(size)
			return errnoError("5.2.0", "error writing message: ", err)
		}
		return nil
	})
}

// deliverMaildir writes m into the Maildir dir as c and returns the new
// file's name.
func deliverMaildir(dir string, c Creds, m Message, o MaildirOptions) (string, error) {
	var name string
	err := asUser(c, func() error {
		for _, d := range []string{dir, dir + "/tmp", dir + "/new", dir + "/cur"} {
			if err := os.Mkdir(d, 0700); err != nil && !os.IsExist(err) {
				return errnoError("5.2.0", "create maildir file "+d+": ", err)
			}
		}
		host, _ := os.Hostname()
		now := time.Now()
		tmp := filepath.Join(dir, "tmp", fmt.Sprintf("%d.P%d.%s", now.Unix(), os.Getpid(), host))
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0600)
		if err != nil {
			return errnoError("5.2.0", "create maildir file "+tmp+": ", err)
		}
		defer f.Close()
		_, err = f.Write(m.Prepend)
		if err == nil {
			_, err = io.Copy(f, m.Content)
		}
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			os.Remove(tmp)
			return errnoError("5.2.0", "write maildir file "+tmp+": ", err)
		}
		var st unix.Stat_t
		unix.Fstat(int(f.Fd()), &st)
		name = filepath.Join(dir, "new", fmt.Sprintf("%d.V%xI%xM%d.%s", now.Unix(), st.Dev, st.Ino, now.Nanosecond()/1000, host))
		if err := os.Link(tmp, name); err != nil {
			os.Remove(tmp)
			return errnoError("5.2.0", "link to maildir file "+name+": ", err)
		}
		os.Remove(tmp)
		return nil
	})
	return name, err
}

func errnoError(def, prefix string, err error) error {
	var errno syscall.Errno
	dsn := def
	temp := def[0] == '4'
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EAGAIN, syscall.ESTALE:
			dsn, temp = "4.2.0", true
		case syscall.ENOSPC:
			dsn, temp = "4.3.0", true
		case syscall.EDQUOT, syscall.EFBIG:
			dsn, temp = "5.2.2", false
		}
		return &MailboxError{Temp: temp, DSN: dsn, Text: prefix + errnoText(errno)}
	}
	return &MailboxError{Temp: temp, DSN: dsn, Text: prefix + err.Error()}
}

func errnoText(e syscall.Errno) string {
	s := e.Error()
	if s != "" {
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}
