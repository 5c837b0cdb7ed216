// Package instance knows the on-disk layout of a postern instance that master
// and the postern command share: the queue directory tree with its owners
// and modes, data_directory, and master's lock file.
//
// The layout (as Postfix's postfix-files has it):
//
//	queue_directory          root            0755
//	  maildrop               mail_owner:setgid_group 0730  (postdrop writes)
//	  public                 mail_owner:setgid_group 0710  (postqueue connects)
//	  private                mail_owner      0700
//	  incoming active deferred hold corrupt bounce defer trace flush saved
//	                         mail_owner      0700
//	  pid                    root            0755
//	    master.pid           root            0644, master's PID and lock
//	data_directory           mail_owner      0700
//
// When the programs run as a user other than root (developer mode) every
// owner above is that user and the groups are its primary group.
//
// master.pid holds master's PID right-aligned in a 32-character field and a
// newline ("                           25177\n"), as Postfix writes it; master
// holds an exclusive flock(2) on it while it runs. The lock, not the file,
// says whether master runs: after a crash or SIGKILL the kernel drops the
// lock and a stale file is no obstacle.
package instance

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"postern/pkg/config"
)

// Who owns a directory.
const (
	Root = iota
	MailOwner
)

// Which group a directory has.
const (
	GroupAny         = iota // whatever the owner's creation gives (not checked)
	GroupRoot               // root's group
	GroupSetgidGroup        // setgid_group
)

// Dir is one directory of the layout, relative to queue_directory.
type Dir struct {
	Name  string
	Owner int
	Group int
	Mode  fs.FileMode
}

// QueueDirs is the queue_directory tree, in creation order.
var QueueDirs = []Dir{
	{"maildrop", MailOwner, GroupSetgidGroup, 0730},
	{"public", MailOwner, GroupSetgidGroup, 0710},
	{"private", MailOwner, GroupAny, 0700},
	{"incoming", MailOwner, GroupAny, 0700},
	{"active", MailOwner, GroupAny, 0700},
	{"deferred", MailOwner, GroupAny, 0700},
	{"hold", MailOwner, GroupAny, 0700},
	{"corrupt", MailOwner, GroupAny, 0700},
	{"bounce", MailOwner, GroupAny, 0700},
	{"defer", MailOwner, GroupAny, 0700},
	{"trace", MailOwner, GroupAny, 0700},
	{"flush", MailOwner, GroupAny, 0700},
	{"saved", MailOwner, GroupAny, 0700},
	{"pid", Root, GroupRoot, 0755},
}

// Owners are the resolved accounts of an instance.
type Owners struct {
	Privileged bool // running as root: mail_owner and setgid_group apply
	RootUID    int  // owner of queue_directory and pid/: 0, or the invoking user
	RootGID    int
	UID, GID   int // mail_owner and its primary group, or the invoking user
	SetgidGID  int // setgid_group, or the invoking user's group
	MailOwner  string
	SetgidName string
}

// ResolveOwners looks up mail_owner and setgid_group when running as root,
// with Postfix's error texts; otherwise every owner is the invoking user.
func ResolveOwners(c *config.Config) (Owners, error) {
	if os.Geteuid() != 0 {
		uid, gid := os.Getuid(), os.Getgid()
		name := strconv.Itoa(uid)
		if u, err := user.LookupId(name); err == nil {
			name = u.Username
		}
		return Owners{RootUID: uid, RootGID: gid, UID: uid, GID: gid, SetgidGID: gid,
			MailOwner: name, SetgidName: name}, nil
	}
	o := Owners{Privileged: true, MailOwner: c.Get("mail_owner"), SetgidName: c.Get("setgid_group")}
	main := filepath.Join(c.ConfigDir(), "main.cf")
	u, err := user.Lookup(o.MailOwner)
	if err != nil {
		return o, fmt.Errorf("file %s: parameter mail_owner: unknown user name value: %s", main, o.MailOwner)
	}
	o.UID, _ = strconv.Atoi(u.Uid)
	o.GID, _ = strconv.Atoi(u.Gid)
	if o.UID == 0 {
		return o, fmt.Errorf("file %s: parameter mail_owner: user %s has privileged user ID: 0", main, o.MailOwner)
	}
	g, err := user.LookupGroup(o.SetgidName)
	if err != nil {
		return o, fmt.Errorf("file %s: parameter setgid_group: unknown group name: %s", main, o.SetgidName)
	}
	o.SetgidGID, _ = strconv.Atoi(g.Gid)
	if o.SetgidGID == 0 {
		return o, fmt.Errorf("file %s: parameter setgid_group: group %s has privileged group ID: 0", main, o.SetgidName)
	}
	if o.SetgidGID == o.GID {
		return o, fmt.Errorf("file %s: parameter setgid_group: group %s has same group ID as mail_owner group: %d", main, o.SetgidName, o.GID)
	}
	return o, nil
}

func (o Owners) uid(owner int) int {
	if owner == Root {
		return o.RootUID
	}
	return o.UID
}

func (o Owners) gid(d Dir) int {
	switch d.Group {
	case GroupRoot:
		return o.RootGID
	case GroupSetgidGroup:
		return o.SetgidGID
	}
	if d.Owner == Root {
		return o.RootGID
	}
	return o.GID
}

// Prepare creates queue_directory, its subdirectories and data_directory
// where they are missing, with the layout's owners and modes. Existing
// directories are left as they are (SetPermissions repairs them).
func Prepare(c *config.Config, o Owners) error {
	return walk(c, o, false)
}

// SetPermissions creates what is missing and sets every directory's owner,
// group and mode to the layout's (postern set-permissions).
func SetPermissions(c *config.Config, o Owners) error {
	return walk(c, o, true)
}

func walk(c *config.Config, o Owners, fix bool) error {
	qdir := c.Get("queue_directory")
	if qdir == "" || !filepath.IsAbs(qdir) {
		return fmt.Errorf("queue_directory must be an absolute path: %q", qdir)
	}
	if err := ensure(qdir, o.RootUID, o.RootGID, 0755, fix, true); err != nil {
		return err
	}
	for _, d := range QueueDirs {
		if err := ensure(filepath.Join(qdir, d.Name), o.uid(d.Owner), o.gid(d), d.Mode, fix, false); err != nil {
			return err
		}
	}
	if ddir := c.Get("data_directory"); ddir != "" {
		if err := ensure(ddir, o.UID, o.GID, 0700, fix, true); err != nil {
			return err
		}
	}
	return nil
}

func ensure(path string, uid, gid int, mode fs.FileMode, fix, parents bool) error {
	_, err := os.Lstat(path)
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		if parents {
			err = os.MkdirAll(path, 0755)
		} else {
			err = os.Mkdir(path, mode)
		}
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create directory %s: %v", path, err)
		}
		created = true
	} else if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if !created && !fix {
		return nil
	}
	if err := os.Lchown(path, uid, gid); err != nil && os.Geteuid() == 0 {
		return fmt.Errorf("chown %s: %v", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod %s: %v", path, err)
	}
	return nil
}

// Check compares the tree with the layout and returns one line per problem
// ("not owned by postern: /var/spool/postern/private"), for postern check.
func Check(c *config.Config, o Owners) []string {
	var out []string
	qdir := c.Get("queue_directory")
	check := func(path string, uid, gid int, checkGroup bool, mode fs.FileMode, owner, group string) {
		fi, err := os.Lstat(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				out = append(out, "missing directory: "+path)
			} else {
				out = append(out, err.Error())
			}
			return
		}
		if !fi.IsDir() {
			out = append(out, "not a directory: "+path)
			return
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != uid {
			out = append(out, fmt.Sprintf("not owned by %s: %s", owner, path))
		}
		if checkGroup && int(st.Gid) != gid {
			out = append(out, fmt.Sprintf("not owned by group %s: %s", group, path))
		}
		if fi.Mode().Perm() != mode {
			out = append(out, fmt.Sprintf("bad mode %04o (want %04o): %s", fi.Mode().Perm(), mode, path))
		}
	}
	rootName := "root"
	if !o.Privileged {
		rootName = o.MailOwner
	}
	check(qdir, o.RootUID, o.RootGID, false, 0755, rootName, "")
	for _, d := range QueueDirs {
		owner := o.MailOwner
		if d.Owner == Root {
			owner = rootName
		}
		check(filepath.Join(qdir, d.Name), o.uid(d.Owner), o.gid(d), d.Group == GroupSetgidGroup, d.Mode, owner, o.SetgidName)
	}
	if ddir := c.Get("data_directory"); ddir != "" {
		check(ddir, o.UID, o.GID, false, 0700, o.MailOwner, "")
	}
	return out
}

// PIDFile returns the path of master's lock file.
func PIDFile(c *config.Config) string {
	return filepath.Join(c.Get("queue_directory"), "pid", "master.pid")
}

// ErrRunning means another master holds the lock.
var ErrRunning = errors.New("the Postern mail system is already running")

// Lock is master's held lock on master.pid.
type Lock struct{ f *os.File }

// LockMaster takes the exclusive lock on path and writes the caller's PID
// into it. It returns ErrRunning when another process holds the lock.
func LockMaster(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0644)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %v", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrRunning
		}
		return nil, fmt.Errorf("open lock file %s: unable to set exclusive lock: %v", path, err)
	}
	text := fmt.Sprintf("%*d\n", 32, os.Getpid())
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(text), 0)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("write lock file %s: %v", path, err)
		}
	}
	return &Lock{f: f}, nil
}

// Release drops the lock (the file stays, as Postfix leaves it).
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// Running reports whether a master holds the lock on path, and its PID.
func Running(path string) (pid int, running bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		return 0, false, nil
	} else if !errors.Is(err, syscall.EWOULDBLOCK) {
		return 0, false, err
	}
	buf := make([]byte, 64)
	n, _ := f.ReadAt(buf, 0)
	pid, err = strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		return 0, true, fmt.Errorf("%s: bad PID %q", path, strings.TrimSpace(string(buf[:n])))
	}
	return pid, true, nil
}
