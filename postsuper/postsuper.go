package postsuper

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"postern/pkg/config"
	"postern/pkg/getopt"
	plog "postern/pkg/log"
	"postern/pkg/queue"
	"postern/pkg/service"
	"postern/pkg/trigger"
)

const usage = "usage: postsuper [-c config_dir] [-d queue_id (delete)] [-e queue_id (expire)] [-f queue_id (expire and/or un-hold)] [-h queue_id (hold)] [-H queue_id (un-hold)] [-p (purge temporary files)] [-r queue_id (requeue)] [-s (structure fix)] [-S (redundant structure fix)][-v (verbose)] [queue...]"

// maxTempAge is how old an incomplete or temporary file must be before -p
// removes it (Postfix's MAX_TEMP_AGE).
const maxTempAge = 7 * 24 * time.Hour

// fixSuffix marks a file renamed to match its inode number in the first
// pass of -s; it is not a valid queue ID, so no daemon touches the file
// until the second pass strips it (Postfix's "#FIX").
const fixSuffix = "#FIX"

// Queue directories postsuper knows. Message queues hold queue files;
// log queues hold per-message logs named by queue ID.
var (
	messageQueues = map[string]bool{queue.Maildrop: true, queue.Incoming: true, queue.Active: true, queue.Deferred: true, queue.Hold: true}
	logQueues     = []string{"bounce", "defer", "trace"}
	knownQueues   = map[string]bool{"bounce": true, "defer": true, "trace": true, "flush": true}
	// The default queue list, in Postfix's order: log directories first,
	// so that they are in place before message files are renamed.
	defaultQueues = []string{"defer", "bounce", queue.Maildrop, queue.Incoming, queue.Active, queue.Deferred, queue.Hold, "flush"}
)

func init() {
	for q := range messageQueues {
		knownQueues[q] = true
	}
}

// Action bits (Postfix's ACTION_*).
const (
	actStruct = 1 << iota
	actStructRed
	actPurge
	actDeleteAll
	actRequeueAll
	actHoldAll
	actReleaseAll
	actExpireAll
	actExpRelAll
	actDeleteOne
	actRequeueOne
	actHoldOne
	actReleaseOne
	actExpireOne
	actExpRelOne

	actRepair    = actStruct | actStructRed | actPurge
	actsByID     = actDeleteOne | actRequeueOne | actHoldOne | actReleaseOne | actExpireOne | actExpRelOne
	actsWildcard = actDeleteAll | actRequeueAll | actHoldAll | actReleaseAll | actExpireAll | actExpRelAll
)

type op struct {
	opt byte
	arg string
}

// super is one run of postsuper.
type super struct {
	q                  *queue.Queue
	qdir               string
	long               bool
	verbose            int
	ownerUID, ownerGID int
	privileged         bool // saved uid is root: may chown

	requeued, held, released, deleted, expired  int
	inodeFixed, inodeMismatch, positionMismatch int

	wakeQmgr, wakePickup bool
}

func fatal(format string, a ...any) int {
	plog.Default().Log(plog.Fatal, "", fmt.Sprintf(format, a...))
	return 1
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Main runs postsuper with args (args[0] is the program name).
func Main(args []string) int {
	plog.Default().SetProgram("postsuper")
	plog.SetStderr(true)
	if os.Getuid() != 0 {
		return fatal("use of this command is reserved for the superuser")
	}
	var ops []op
	var cdir string
	action := 0
	s := &super{}
	operands, err := getopt.Parse(args[1:], "c:d:e:f:h:H:pr:sSv", func(opt byte, a string) error {
		switch opt {
		case 'c':
			if !strings.HasPrefix(a, "/") {
				return errAbsolute
			}
			cdir = a
		case 'v':
			s.verbose++
		case 'p':
			action |= actPurge
		case 'S':
			action |= actStructRed | actStruct
		case 's':
			action |= actStruct
		default:
			all := a == "ALL"
			bits := map[byte][2]int{
				'd': {actDeleteAll, actDeleteOne}, 'e': {actExpireAll, actExpireOne},
				'f': {actExpRelAll, actExpRelOne}, 'h': {actHoldAll, actHoldOne},
				'H': {actReleaseAll, actReleaseOne}, 'r': {actRequeueAll, actRequeueOne},
			}[opt]
			if all {
				action |= bits[0]
			} else {
				action |= bits[1]
			}
			ops = append(ops, op{opt, a})
		}
		return nil
	})
	if errors.Is(err, errAbsolute) {
		return fatal("-c requires absolute pathname")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "postsuper: %v\n", err)
		return fatal("%s", usage)
	}
	cfg, err := config.Load(config.Dir(cdir))
	if err != nil {
		return fatal("%v", err)
	}
	_ = plog.Setup(cfg, "postsuper", true)
	s.qdir = cfg.Get("queue_directory")
	if err := os.Chdir(s.qdir); err != nil {
		return fatal("chdir %s: %s", s.qdir, unixText(err))
	}
	if abs, err := filepath.Abs(s.qdir); err == nil {
		s.qdir = abs
	}
	s.q = queue.FromConfig(s.qdir, cfg)
	s.long = s.q.LongIDs
	// Every file and directory update is made as mail_owner, as the
	// daemons make them (a hash subdirectory created by root would lock
	// them out, and a compromised queue cannot lead root elsewhere). The
	// saved uid stays root, only to give a requeued file to mail_owner.
	uid, gid, err := service.LookupMailOwner(cfg.Get("mail_owner"))
	if err != nil {
		return fatal("%v", err)
	}
	if err := s.dropPrivileges(uid, gid); err != nil {
		return fatal("%v", err)
	}

	queues := defaultQueues
	if len(operands) > 0 {
		queues = operands
	}
	for _, name := range queues {
		if !knownQueues[name] {
			return fatal("invalid directory name: %s", name)
		}
	}
	if action == 0 {
		action = actStruct | actPurge
	}

	// Repairs first: queue files in their place and named after their
	// inode, before anything is done by name.
	if action&actRepair != 0 {
		s.walk(queues, action&actRepair)
		if s.inodeMismatch > 0 {
			// Second pass: strip the suffix of the files renamed.
			s.walk(queues, action&actRepair)
		}
	}
	if action&actsByID != 0 && (s.inodeMismatch > 0 || s.inodeFixed > 0) {
		plog.Errorf("QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS")
		return fatal("CHECK YOUR QUEUE IDS AND RE-ISSUE THE COMMAND")
	}

	var stdin *bufio.Reader
	for _, o := range ops {
		one := map[byte]func([]string, string){
			'd': s.deleteOne, 'e': s.expireOne, 'f': s.expRelOne,
			'h': s.holdOne, 'H': s.releaseOne, 'r': s.requeueOne,
		}[o.opt]
		switch o.arg {
		case "ALL":
			s.walk(queues, map[byte]int{
				'd': actDeleteAll, 'e': actExpireAll, 'f': actExpRelAll,
				'h': actHoldAll, 'H': actReleaseAll, 'r': actRequeueAll,
			}[o.opt])
		case "-":
			if stdin == nil {
				stdin = bufio.NewReader(os.Stdin)
			}
			for {
				line, err := stdin.ReadString('\n')
				if line == "" && err != nil {
					break
				}
				one(queues, strings.TrimSuffix(line, "\n"))
				if err != nil {
					break
				}
			}
		default:
			one(queues, o.arg)
		}
	}

	if action&(actRequeueOne|actRequeueAll) != 0 {
		plog.Infof("Requeued: %d message%s", s.requeued, plural(s.requeued))
	}
	if action&(actDeleteOne|actDeleteAll) != 0 {
		plog.Infof("Deleted: %d message%s", s.deleted, plural(s.deleted))
	}
	if action&(actExpireOne|actExpireAll|actExpRelOne|actExpRelAll) != 0 {
		plog.Infof("Force-expired: %d message%s", s.expired, plural(s.expired))
	}
	if action&(actHoldOne|actHoldAll) != 0 {
		plog.Infof("Placed on hold: %d message%s", s.held, plural(s.held))
	}
	if action&(actReleaseOne|actReleaseAll|actExpRelOne|actExpRelAll) != 0 {
		plog.Infof("Released from hold: %d message%s", s.released, plural(s.released))
	}
	if s.inodeFixed > 0 {
		plog.Infof("Renamed to match inode number: %d message%s", s.inodeFixed, plural(s.inodeFixed))
	}
	if s.inodeMismatch > 0 || s.inodeFixed > 0 {
		plog.Warningf("QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS")
	}

	// Wake the daemons that should notice: qmgr for released and expired
	// mail (it takes deferred files whose retry time has come), pickup for
	// requeued mail. Nothing listening is fine: their scans find it.
	if s.wakeQmgr {
		trigger.Send(s.qdir, "public/qmgr", trigger.Deferred)
	}
	if s.wakePickup {
		trigger.Send(s.qdir, "public/pickup", trigger.Wakeup)
	}
	return 0
}

var errAbsolute = errors.New("-c requires absolute pathname")

// dropPrivileges sets the effective (and file system) uid and gid to
// mail_owner for all threads, keeping root as the saved uid.
func (s *super) dropPrivileges(uid, gid int) error {
	s.ownerUID, s.ownerGID = uid, gid
	if os.Geteuid() != 0 {
		return nil
	}
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return fmt.Errorf("setgroups: %v", err)
	}
	if err := syscall.Setresgid(-1, gid, -1); err != nil {
		return fmt.Errorf("setresgid: %v", err)
	}
	if err := syscall.Setresuid(-1, uid, 0); err != nil {
		return fmt.Errorf("setresuid: %v", err)
	}
	s.privileged = true
	return nil
}

// chownOwner gives path to mail_owner (a requeued file that root or a
// restore left with another owner), with root's effective uid for the
// moment of the call.
func (s *super) chownOwner(path string) {
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil || int(st.Uid) == s.ownerUID || !s.privileged {
		return
	}
	if err := syscall.Setresuid(-1, 0, -1); err != nil {
		plog.Warningf("%s: set owner: %v", path, err)
		return
	}
	if err := unix.Lchown(path, s.ownerUID, s.ownerGID); err != nil {
		plog.Warningf("%s: set owner: %s", path, unixText(err))
	}
	if err := syscall.Setresuid(-1, s.ownerUID, -1); err != nil {
		// Never go on as root.
		plog.Fatalf("setresuid: %v", err)
	}
}

func unixText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		t := en.Error()
		if t != "" {
			return strings.ToUpper(t[:1]) + t[1:]
		}
	}
	return err.Error()
}

// readyFile reports whether path is a complete queue file: a regular file
// with its owner-execute bit, one link (Postfix's mail_open_ok).
func readyFile(path string) (unix.Stat_t, bool) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return st, false
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0700 != 0700 {
		return st, false
	}
	if st.Nlink > 1 {
		plog.Warningf("%s: uid %d: file has %d links", path, st.Uid, st.Nlink)
		return st, false
	}
	return st, true
}

func validID(id string) bool {
	if !queue.ValidID(id) {
		plog.Warningf("invalid mail queue id: %s", id)
		return false
	}
	return true
}

// path is where the file name belongs in queue qn: message queues as
// pkg/queue places them, the bounce daemon's logs flat.
func (s *super) path(qn, name string) string {
	if messageQueues[qn] {
		return s.q.Path(qn, name)
	}
	return filepath.Join(s.qdir, qn, name)
}

func (s *super) removeLogs(id string) {
	for _, d := range logQueues {
		if err := os.Remove(filepath.Join(s.qdir, d, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			plog.Warningf("remove file %s/%s: %s", d, id, unixText(err))
		}
	}
}

// lookup calls fn with the path of id in each message queue of queues
// where it is a complete file, until fn reports success; twice over, as a
// file may move between queues meanwhile.
func (s *super) lookup(queues []string, id string, skip func(q string) bool, fn func(state, path string) bool) bool {
	for tries := 0; tries < 2; tries++ {
		for _, qn := range queues {
			if !messageQueues[qn] || skip(qn) {
				continue
			}
			p := s.q.Path(qn, id)
			if _, ok := readyFile(p); !ok {
				continue
			}
			if fn(qn, p) {
				return true
			}
		}
	}
	return false
}

func none(string) bool { return false }

func (s *super) deleteOne(queues []string, id string) {
	if !validID(id) {
		return
	}
	if s.lookup(queues, id, none, func(state, path string) bool {
		s.removeLogs(id)
		if err := os.Remove(path); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				plog.Fatalf("remove file %s: %s", path, unixText(err))
			}
			return false
		}
		plog.QInfof(id, "removed")
		return true
	}) {
		s.deleted++
	}
}

// move renames a file and reports success; a file gone meanwhile is a
// lost race, anything else fatal, as in Postfix.
func (s *super) move(from, to string) bool {
	if err := s.q.Rename(from, to); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false
		}
		plog.Fatalf("rename file %s as %s: %s", from, to, unixText(err))
	}
	if s.verbose > 0 {
		plog.Infof("renamed file %s as %s", from, to)
	}
	return true
}

func (s *super) requeueOne(queues []string, id string) {
	if !validID(id) {
		return
	}
	if s.lookup(queues, id, func(q string) bool { return q == queue.Maildrop }, func(state, path string) bool {
		to := s.q.Path(queue.Maildrop, id)
		if !s.move(path, to) {
			return false
		}
		s.requeued1(to)
		plog.QInfof(id, "requeued")
		return true
	}) {
		s.requeued++
	}
}

// requeued1 finishes a file moved to maildrop/: pickup takes a file owned
// by mail_owner as requeued mail; its time stamps are reset, as Postfix
// does.
func (s *super) requeued1(path string) {
	s.chownOwner(path)
	now := time.Now()
	if err := os.Chtimes(path, now, now); err != nil && !errors.Is(err, os.ErrNotExist) {
		plog.Warningf("%s: reset time stamps: %s", path, unixText(err))
	}
	s.wakePickup = true
}

func (s *super) holdOne(queues []string, id string) {
	if !validID(id) {
		return
	}
	if s.lookup(queues, id, func(q string) bool { return q == queue.Maildrop || q == queue.Hold }, func(state, path string) bool {
		if !s.move(path, s.q.Path(queue.Hold, id)) {
			return false
		}
		plog.QInfof(id, "placed on hold")
		return true
	}) {
		s.held++
	}
}

func (s *super) releaseOne(queues []string, id string) {
	if !validID(id) {
		return
	}
	for _, qn := range queues {
		if qn != queue.Hold {
			continue
		}
		p := s.q.Path(queue.Hold, id)
		if _, ok := readyFile(p); !ok {
			continue
		}
		to := s.q.Path(queue.Deferred, id)
		if !s.move(p, to) {
			continue
		}
		s.released1(to)
		plog.QInfof(id, "released from hold")
		s.released++
		return
	}
}

// released1 makes a file just moved from hold/ to deferred/ due now, so
// that qmgr takes it at its next deferred scan.
func (s *super) released1(path string) {
	if err := queue.SetRetryTime(path, time.Now()); err != nil && !errors.Is(err, os.ErrNotExist) {
		plog.Warningf("%s: reset time stamps: %s", path, unixText(err))
	}
	s.wakeQmgr = true
}

// expire sets the forced_expire flag of a complete file: the only byte
// postsuper ever writes in a queue file. It reports false for a file that
// is gone, incomplete or already expired.
func (s *super) expire(path string) bool {
	if _, ok := readyFile(path); !ok {
		return false
	}
	f, err := queue.OpenRW(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			plog.Warningf("expire file %s: %v", path, err)
		}
		return false
	}
	defer f.Close()
	if f.ForcedExpire() {
		return false
	}
	if err := f.SetForcedExpire(true); err != nil {
		plog.Warningf("expire file %s: %v", path, err)
		return false
	}
	s.wakeQmgr = true
	return true
}

func (s *super) expireOne(queues []string, id string) {
	if !validID(id) {
		return
	}
	if s.lookup(queues, id, func(q string) bool { return q == queue.Maildrop }, func(state, path string) bool {
		if !s.expire(path) {
			return false
		}
		plog.QInfof(id, "expired")
		return true
	}) {
		s.expired++
	}
}

func (s *super) expRelOne(queues []string, id string) {
	if !queue.ValidID(id) {
		// Postfix's expire and release steps warn once each.
		validID(id)
		validID(id)
		return
	}
	s.expireOne(queues, id)
	s.releaseOne(queues, id)
}

// walk goes over every file of queues once, for the repair actions or one
// mass action (ALL), as Postfix's super() does.
func (s *super) walk(queues []string, action int) {
	for _, qn := range queues {
		if qn == "flush" {
			continue // fast-flush logs are the flush service's business
		}
		wanted := 0
		if messageQueues[qn] && s.q.HashDepth > 0 {
			for _, h := range s.q.HashQueues {
				if h == qn {
					wanted = s.q.HashDepth
				}
			}
		}
		recurse := qn != queue.Maildrop
		if wanted > 0 && !recurse {
			plog.Fatalf("%s queue must not be hashed", qn)
		}
		s.walkDir(qn, filepath.Join(s.qdir, qn), 0, wanted, recurse, action)
	}
}

func (s *super) walkDir(qn, dir string, depth, wanted int, recurse bool, action int) {
	d, err := os.Open(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			plog.Warningf("open directory %s: %s", dir, unixText(err))
		}
		return
	}
	defer d.Close()
	for {
		names, rerr := d.Readdirnames(256)
		for _, n := range names {
			p := dir + "/" + n
			if len(n) == 1 && recurse {
				var st unix.Stat_t
				if unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
					s.walkDir(qn, p, depth+1, wanted, recurse, action)
					if depth+1 > wanted {
						if err := unix.Rmdir(p); err != nil && err != unix.ENOENT && err != unix.ENOTEMPTY {
							plog.Warningf("remove directory %s: %s", p, unixText(err))
						} else if err == nil && s.verbose > 0 {
							plog.Infof("remove directory %s", p)
						}
					}
					continue
				}
			}
			s.entry(qn, p, n, action)
		}
		if rerr == io.EOF || (rerr != nil && len(names) == 0) {
			if rerr != io.EOF {
				plog.Warningf("read directory %s: %s", dir, unixText(rerr))
			}
			return
		}
	}
}

// entry handles one directory entry of queue qn.
func (s *super) entry(qn, path, name string, action int) {
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil {
		return // gone meanwhile
	}
	msgq := messageQueues[qn]
	ready := st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0700 == 0700
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		// An alien directory.
		if err := unix.Rmdir(path); err != nil && err != unix.ENOENT {
			plog.Warningf("remove subdirectory %s: %s", path, unixText(err))
		}
		return
	}
	if action&actDeleteAll != 0 {
		if !queue.ValidID(name) {
			return // temporary files belong to their writers (see -p)
		}
		if err := os.Remove(path); err == nil {
			if msgq && ready {
				s.deleted++
				s.removeLogs(name)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			plog.Fatalf("remove file %s: %s", path, unixText(err))
		}
		return
	}
	old := time.Now().Add(-maxTempAge)
	if st.Mode&unix.S_IFMT != unix.S_IFREG ||
		(action&actPurge != 0 && msgq && !ready && time.Unix(st.Mtim.Unix()).Before(old)) {
		if err := os.Remove(path); err == nil {
			if s.verbose > 0 {
				plog.Infof("removed file %s", path)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			plog.Fatalf("remove file %s: %s", path, unixText(err))
		}
		return
	}
	// Second pass of a name fix: strip the suffix, put the file in its
	// place.
	if action&actStruct != 0 && strings.HasSuffix(name, fixSuffix) {
		name = strings.TrimSuffix(name, fixSuffix)
		if !queue.ValidID(name) {
			plog.Warningf("bogus file name: %s", path)
			return
		}
		if msgq {
			if _, ino, _, ok := queue.ParseID(name); !ok || ino != st.Ino {
				plog.Warningf("name/inode mismatch: %s", path)
				return
			}
		}
		to := s.path(qn, name)
		if !s.move(path, to) {
			return
		}
		if msgq {
			s.inodeFixed++
		}
		path = to
	}
	if !queue.ValidID(name) {
		if !strings.HasPrefix(name, ".t") { // a writer's temporary file
			plog.Warningf("bogus file name: %s", path)
		}
		return
	}
	if action&actStruct != 0 && msgq {
		if s.fixName(qn, path, name, &st, action) {
			return
		}
		if ready && s.checkCorrupt(path, action) {
			return
		}
	}
	switch {
	case action&actRequeueAll != 0:
		if msgq && qn != queue.Maildrop && ready {
			to := s.q.Path(queue.Maildrop, name)
			if s.move(path, to) {
				s.requeued1(to)
				s.requeued++
			}
		}
		return
	case action&(actExpireAll|actExpRelAll) != 0:
		if msgq && qn != queue.Maildrop && ready && s.expire(path) {
			s.expired++
		}
		if action&actExpRelAll == 0 {
			return
		}
	}
	switch {
	case action&actHoldAll != 0:
		if msgq && qn != queue.Maildrop && qn != queue.Hold && ready {
			if s.move(path, s.q.Path(queue.Hold, name)) {
				s.held++
			}
		}
		return
	case action&(actReleaseAll|actExpRelAll) != 0:
		if qn == queue.Hold && ready {
			to := s.q.Path(queue.Deferred, name)
			if s.move(path, to) {
				s.released1(to)
				s.released++
			}
		}
		return
	}
	// Is the file in its place (hash_queue_names, hash_queue_depth)?
	if action&actStruct != 0 {
		if to := s.path(qn, name); to != path {
			s.positionMismatch++
			s.move(path, to)
		}
	}
}

// fixName renames a message file whose name does not match its inode
// number (or is long while long IDs are off) to NEWID#FIX, and its logs to
// NEWID; the second pass strips the suffix. It reports whether it renamed.
func (s *super) fixName(qn, path, name string, st *unix.Stat_t, action int) bool {
	t, ino, long, ok := queue.ParseID(name)
	if !ok {
		plog.Warningf("bogus file name: %s", path)
		return true
	}
	if !(long && !s.long) && !(ino != st.Ino && (!long || action&actStructRed != 0)) {
		return false
	}
	// The new ID keeps the time of the old one (so that it is
	// deterministic, should the repair be interrupted) and takes the inode.
	newID := queue.FormatID(t.UnixMicro(), st.Ino, long && s.long)
	s.inodeMismatch++
	for _, d := range logQueues {
		from := filepath.Join(s.qdir, d, name)
		if err := s.q.Rename(from, filepath.Join(s.qdir, d, newID)); err != nil && !errors.Is(err, os.ErrNotExist) {
			plog.Warningf("rename file %s: %s", from, unixText(err))
		}
	}
	s.move(path, filepath.Join(filepath.Dir(path), newID+fixSuffix))
	return true
}

// checkCorrupt reads a complete queue file as the daemons will (its
// envelope and recipients; with -S its content too) and moves it to
// corrupt/ when it cannot be parsed. A file that a daemon changes under
// our feet (qmgr truncating old delay reasons) must not be mistaken for a
// damaged one, so a failure is confirmed by a second reading.
func (s *super) checkCorrupt(path string, action int) bool {
	var err error
	for try := 0; try < 2; try++ {
		if err = check(path, action&actStructRed != 0); err == nil || !errors.Is(err, queue.ErrCorrupt) {
			return false
		}
		if try == 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if _, merr := s.q.MoveToCorrupt(path, err); merr != nil && !errors.Is(merr, os.ErrNotExist) {
		plog.Warningf("%s: %v", path, merr)
	}
	return true
}

func check(path string, full bool) error {
	f, err := queue.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Envelope(); err != nil {
		return err
	}
	if err := f.Recipients(func(queue.Recipient) error { return nil }); err != nil {
		return err
	}
	if full {
		return f.Verify()
	}
	return nil
}
