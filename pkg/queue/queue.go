package queue

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	plog "postern/pkg/log"
)

// Queue states (directory names under queue_directory).
const (
	Maildrop = "maildrop"
	Incoming = "incoming"
	Active   = "active"
	Deferred = "deferred"
	Hold     = "hold"
	Corrupt  = "corrupt"
)

// States lists the states in the order postqueue -p shows them, then
// corrupt.
var States = []string{Maildrop, Active, Incoming, Deferred, Hold, Corrupt}

func knownState(s string) bool {
	for _, k := range States {
		if s == k {
			return true
		}
	}
	return false
}

// CommitMethod selects how Commit makes a new file durable (see the
// package documentation).
type CommitMethod int

const (
	// MethodExecBit is Postfix's way: final name at once, owner-execute
	// bit when complete.
	MethodExecBit CommitMethod = iota
	// MethodRename writes under a temporary name and renames on Commit.
	MethodRename
)

// DefaultMethod is the commit method New selects, chosen by measurement
// (bench/RESULTS-queue.md).
const DefaultMethod = MethodRename

func (m CommitMethod) String() string {
	if m == MethodRename {
		return "rename"
	}
	return "execbit"
}

// Queue is a queue directory and how its files are named and written.
// Set the fields before first use; a Queue is then safe for concurrent use.
type Queue struct {
	Dir        string   // queue_directory
	HashDepth  int      // hash_queue_depth; 0 means flat
	HashQueues []string // hash_queue_names
	LongIDs    bool     // enable_long_queue_ids
	Method     CommitMethod
	// NoDirSync (MethodExecBit only) skips the directory fsync in
	// Commit and relies on the file system making the create-time rename
	// durable with the file's fsync, as Postfix does (true of ext4, XFS
	// and btrfs, not promised by POSIX).
	NoDirSync bool
	// Mode is the permission of files being written (default 0600);
	// the owner-execute bit is added on completion.
	Mode os.FileMode
	// Clock, when set, replaces time.Now for IDs (tests).
	Clock func() time.Time
	// Log receives the warning of MoveToCorrupt; nil means the default
	// logger of pkg/log.
	Log *plog.Logger

	own stamper
}

// New returns a Queue for dir with Postfix's defaults: hash depth 1 for
// deferred (Postfix's hash_queue_names = deferred, defer), short IDs, DefaultMethod.
func New(dir string) *Queue {
	return &Queue{Dir: dir, HashDepth: 1, HashQueues: []string{Deferred, "defer"}, Method: DefaultMethod}
}

func (q *Queue) mode() os.FileMode {
	if q.Mode == 0 {
		return 0600
	}
	return q.Mode &^ 0100
}

func (q *Queue) clock() func() time.Time {
	if q.Clock != nil {
		return q.Clock
	}
	return time.Now
}

func (q *Queue) stamper() *stamper {
	if q.Clock != nil {
		return &q.own
	}
	return &defaultStamper
}

func (q *Queue) hashed(state string) bool {
	if q.HashDepth <= 0 {
		return false
	}
	for _, s := range q.HashQueues {
		if s == state {
			return true
		}
	}
	return false
}

// Path returns where the file of id lives in state.
func (q *Queue) Path(state, id string) string {
	if !q.hashed(state) || len(id) < q.HashDepth {
		return filepath.Join(q.Dir, state, id)
	}
	parts := make([]string, 0, q.HashDepth+3)
	parts = append(parts, q.Dir, state)
	for i := 0; i < q.HashDepth; i++ {
		parts = append(parts, id[len(id)-1-i:len(id)-i])
	}
	return filepath.Join(append(parts, id)...)
}

// MakeDirs creates the state directories (not their hash
// subdirectories, which are made when first needed).
func (q *Queue) MakeDirs(perm os.FileMode) error {
	for _, s := range States {
		if err := os.MkdirAll(filepath.Join(q.Dir, s), perm); err != nil {
			return err
		}
	}
	return nil
}

// renameNoReplace renames from to to, failing with os.ErrExist if to
// exists; a missing hash subdirectory of to is created.
func (q *Queue) renameNoReplace(from, to string) error {
	for tries := 0; ; tries++ {
		err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
		if err == unix.EINVAL || err == unix.ENOSYS {
			// File system without RENAME_NOREPLACE: link fails if to exists.
			if err = unix.Link(from, to); err == nil {
				err = unix.Unlink(from)
			}
		}
		if err == nil {
			return nil
		}
		if err == unix.ENOENT && tries == 0 {
			dir := filepath.Dir(to)
			if _, serr := os.Stat(dir); errors.Is(serr, os.ErrNotExist) && filepath.Dir(dir) != q.Dir {
				if merr := os.MkdirAll(dir, 0700); merr != nil {
					return merr
				}
				// Make the new directory itself durable.
				if merr := syncDir(filepath.Dir(dir)); merr != nil {
					return merr
				}
				continue
			}
		}
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
}

// Rename renames the file at path from to path to, both inside the queue
// directory, never replacing an existing file (an error wrapping
// os.ErrExist then); a missing hash subdirectory of to is created. It is
// for repairs (postsuper -s) and mass moves that find files by walking a
// directory rather than by Path; a missing from gives an error wrapping
// os.ErrNotExist.
func (q *Queue) Rename(from, to string) error {
	return q.renameNoReplace(from, to)
}

// Move renames the file of id from one state to another and returns its
// new path. The rename never replaces an existing file; it is not
// followed by a directory fsync (see DURABILITY). A missing file gives an
// error that wraps os.ErrNotExist.
func (q *Queue) Move(id, from, to string) (string, error) {
	if !ValidID(id) {
		return "", fmt.Errorf("queue: invalid queue id %q", id)
	}
	if !knownState(from) || !knownState(to) {
		return "", fmt.Errorf("queue: invalid queue name %q or %q", from, to)
	}
	dst := q.Path(to, id)
	if err := q.renameNoReplace(q.Path(from, id), dst); err != nil {
		return "", err
	}
	return dst, nil
}

// Remove deletes the file of id in state.
func (q *Queue) Remove(state, id string) error {
	if !ValidID(id) {
		return fmt.Errorf("queue: invalid queue id %q", id)
	}
	return os.Remove(q.Path(state, id))
}

// SetRetryTime sets the time of the next delivery attempt of a deferred
// file: its access and modification times, as Postfix does.
func SetRetryTime(path string, t time.Time) error {
	return os.Chtimes(path, t, t)
}

// Find looks for id in states (all of States when none is given) and
// returns the state and path of the first match.
func (q *Queue) Find(id string, states ...string) (state, path string, err error) {
	if !ValidID(id) {
		return "", "", fmt.Errorf("queue: invalid queue id %q", id)
	}
	if len(states) == 0 {
		states = States
	}
	for _, s := range states {
		p := q.Path(s, id)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err == nil {
			return s, p, nil
		}
	}
	return "", "", fmt.Errorf("queue: %s: %w", id, os.ErrNotExist)
}

const scanBatch = 256

// Scan calls fn for every file in state whose name is a valid queue ID,
// in directory order, reading the directory (and its hash
// subdirectories) in batches, so that memory does not grow with the
// number of files. Files may be incomplete (Open says ErrIncomplete).
// An error from fn stops the scan and is returned. A missing state
// directory is empty.
func (q *Queue) Scan(state string, fn func(id, path string) error) error {
	if !knownState(state) {
		return fmt.Errorf("queue: invalid queue name %q", state)
	}
	depth := 0
	if q.hashed(state) {
		depth = q.HashDepth
	}
	return scanDir(filepath.Join(q.Dir, state), depth, fn)
}

func scanDir(dir string, depth int, fn func(id, path string) error) error {
	d, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(scanBatch)
		for _, n := range names {
			if !ValidID(n) {
				continue
			}
			p := dir + "/" + n
			if depth > 0 {
				if len(n) == 1 {
					if err := scanDir(p, depth-1, fn); err != nil {
						return err
					}
				}
				continue
			}
			if err := fn(n, p); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// MoveToCorrupt moves a file that cannot be parsed to corrupt/ (never
// replacing a file there: a clash gets a ".N" suffix), logs a warning
// with the reason, and returns the new path.
func (q *Queue) MoveToCorrupt(path string, reason error) (string, error) {
	id := filepath.Base(path)
	from := "?"
	if rel, err := filepath.Rel(q.Dir, path); err == nil && !strings.HasPrefix(rel, "..") {
		from = strings.SplitN(rel, string(filepath.Separator), 2)[0]
	}
	dst := filepath.Join(q.Dir, Corrupt, id)
	var err error
	for i := 1; i < 1000; i++ {
		if err = q.renameNoReplace(path, dst); !errors.Is(err, os.ErrExist) && !errors.Is(err, unix.EEXIST) {
			break
		}
		dst = filepath.Join(q.Dir, Corrupt, fmt.Sprintf("%s.%d", id, i))
	}
	if err != nil {
		return "", err
	}
	l := q.Log
	if l == nil {
		l = plog.Default()
	}
	l.Warningf("saving corrupt file %q from queue %q to queue %q: %v", id, from, Corrupt, reason)
	return dst, nil
}

// Cleanup removes what crashed writers left in the states where files
// are created: temporary files and incomplete files (no owner-execute
// bit) whose modification time is more than olderThan ago. Pass 0 only
// when no writer can be running (at start, before the daemons).
func (q *Queue) Cleanup(olderThan time.Duration) (removed int, err error) {
	limit := time.Now().Add(-olderThan)
	for _, s := range States {
		if s == Corrupt {
			continue
		}
		depth := 0
		if q.hashed(s) {
			depth = q.HashDepth
		}
		n, e := cleanDir(filepath.Join(q.Dir, s), depth, limit)
		removed += n
		if e != nil && err == nil {
			err = e
		}
	}
	return removed, err
}

func cleanDir(dir string, depth int, limit time.Time) (int, error) {
	d, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		return 0, err
	}
	defer d.Close()
	removed := 0
	for {
		names, rerr := d.Readdirnames(scanBatch)
		for _, n := range names {
			p := dir + "/" + n
			if depth > 0 && len(n) == 1 {
				k, err := cleanDir(p, depth-1, limit)
				removed += k
				if err != nil {
					return removed, err
				}
				continue
			}
			var st unix.Stat_t
			if unix.Lstat(p, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
				continue
			}
			if time.Unix(st.Mtim.Unix()).After(limit) {
				continue
			}
			if strings.HasPrefix(n, ".t") || (ValidID(n) && st.Mode&0100 == 0) {
				if os.Remove(p) == nil {
					removed++
				}
			}
		}
		if rerr == io.EOF {
			return removed, nil
		}
		if rerr != nil {
			return removed, rerr
		}
	}
}
