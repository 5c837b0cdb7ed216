package queue

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Writer writes one new queue file. Call SetEnvelope, then AddRecipient
// (and AddAttr), then Write the content, then AddRecipient/AddAttr again
// for the extracted section if needed, then Commit (or Abort). A Writer is
// not safe for concurrent use.
type Writer struct {
	q       *Queue
	state   string
	f       *os.File
	bw      *bufio.Writer
	id      string
	path    string // final name
	tmp     string // temporary name (MethodRename), "" once renamed
	ino     uint64
	hdr     header
	phase   int // 0 nothing, 1 envelope, 2 content, 3 extracted
	rcptSet bool
	off     int64
	cstart  int64
	xstart  int64
	crc     uint32
	nrec    uint32
	err     error
	closed  bool
	scratch []byte
}

const (
	phaseNone = iota
	phaseEnvelope
	phaseContent
	phaseExtracted
)

var tmpSeq atomic.Uint64

// Create starts a new queue file in state (normally "incoming" or
// "maildrop") of the queue at queueDir, with the default settings (see
// New).
func Create(queueDir, state string) (*Writer, error) {
	return New(queueDir).Create(state)
}

// Create starts a new queue file in state. Its ID is known at once
// (w.ID()), for the Received: header and the log.
func (q *Queue) Create(state string) (*Writer, error) {
	if !knownState(state) || state == Corrupt {
		return nil, fmt.Errorf("queue: cannot create a file in %q", state)
	}
	top := filepath.Join(q.Dir, state)
	var f *os.File
	var tmp string
	for tries := 0; ; tries++ {
		tmp = filepath.Join(top, fmt.Sprintf(".t%d.%d.%d", os.Getpid(), time.Now().UnixNano()%1e9, tmpSeq.Add(1)))
		var err error
		f, err = os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, q.mode())
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || tries > 100 {
			return nil, fmt.Errorf("queue: create file in %s: %w", top, err)
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("queue: fstat %s: %w", tmp, err)
	}
	w := &Writer{q: q, state: state, f: f, tmp: tmp, ino: st.Ino}
	micros := q.stamper().now(q.clock())
	for tries := 0; ; tries++ {
		w.id = FormatID(micros, st.Ino, q.LongIDs)
		w.path = q.Path(state, w.id)
		if q.Method == MethodRename {
			break
		}
		err := q.renameNoReplace(tmp, w.path)
		if err == nil {
			w.tmp = ""
			break
		}
		if !errors.Is(err, os.ErrExist) || tries > 100 {
			f.Close()
			os.Remove(tmp)
			return nil, fmt.Errorf("queue: create %s: %w", w.path, err)
		}
		micros = bumpMicros(micros, q.LongIDs)
	}
	w.hdr = header{create: micros, arrival: micros, forced: '0', warned: '0'}
	w.bw = bufio.NewWriterSize(f, 64<<10)
	var zero [headerSize]byte
	w.write(zero[:])
	return w, w.err
}

// ID returns the queue ID of the new file.
func (w *Writer) ID() string { return w.id }

// Path returns the final path name of the new file.
func (w *Writer) Path() string { return w.path }

// CreateTime returns the create_time of the file (the time in its ID).
func (w *Writer) CreateTime() time.Time { return time.UnixMicro(w.hdr.create) }

func (w *Writer) write(p []byte) {
	if w.err != nil {
		return
	}
	n, err := w.bw.Write(p)
	w.off += int64(n)
	if err != nil {
		w.err = fmt.Errorf("queue: write %s: %w", w.path, err)
	}
}

func (w *Writer) record(typ byte, payload []byte) {
	w.scratch = appendRecord(w.scratch[:0], typ, payload)
	w.write(w.scratch)
	w.nrec++
}

// SetEnvelope writes the envelope's sender and attributes. It must come
// first, once. e.CreateTime is ignored; a zero e.ArrivalTime means the
// create time.
func (w *Writer) SetEnvelope(e *Envelope) error {
	if w.err != nil {
		return w.err
	}
	if w.phase != phaseNone {
		return errors.New("queue: SetEnvelope called twice or too late")
	}
	if !e.ArrivalTime.IsZero() {
		w.hdr.arrival = e.ArrivalTime.UnixMicro()
	}
	w.phase = phaseEnvelope
	w.record(recSender, appendString(nil, e.Sender))
	if e.SenderFullName != "" {
		w.record(recFullName, appendString(nil, e.SenderFullName))
	}
	for _, a := range e.namedAttrs() {
		w.attr(a.Name, a.Value)
	}
	return w.err
}

func (w *Writer) attr(name, value string) {
	var p []byte
	p = appendString(p, name)
	p = appendString(p, value)
	w.record(recAttr, p)
}

// AddAttr adds a named attribute: to the envelope before any recipient,
// to the extracted section after the content.
func (w *Writer) AddAttr(name, value string) error {
	if w.err != nil {
		return w.err
	}
	switch w.phase {
	case phaseNone:
		return errors.New("queue: AddAttr before SetEnvelope")
	case phaseEnvelope:
		if w.rcptSet {
			return errors.New("queue: envelope attributes must precede recipients")
		}
	case phaseContent:
		w.startExtracted()
	}
	w.attr(name, value)
	return w.err
}

// AddRecipient adds a recipient: to the envelope before the content, to
// the extracted section after it.
func (w *Writer) AddRecipient(r Recipient) error {
	if w.err != nil {
		return w.err
	}
	if w.phase == phaseNone {
		return errors.New("queue: AddRecipient before SetEnvelope")
	}
	if w.phase == phaseContent {
		w.startExtracted()
	}
	if r.Notify < 0 || r.Notify > 15 {
		return fmt.Errorf("queue: bad notify flags %d", r.Notify)
	}
	if w.hdr.nrcpt == 1<<32-1 {
		return errors.New("queue: too many recipients")
	}
	p := []byte{statusTodo, byte(r.Notify)}
	if r.Done {
		p[0] = statusDone
	}
	p = appendString(p, r.Address)
	p = appendString(p, r.OrigAddress)
	p = appendString(p, r.ORCPT)
	if len(p) > maxRecord {
		return errors.New("queue: recipient too long")
	}
	w.rcptSet = true
	w.record(recRcpt, p)
	w.hdr.nrcpt++
	return w.err
}

func (w *Writer) startContent() {
	w.phase = phaseContent
	w.cstart = w.off
}

func (w *Writer) startExtracted() {
	if w.phase == phaseEnvelope {
		w.startContent()
	}
	w.phase = phaseExtracted
	w.xstart = w.off
}

// Write appends message content. It fails after the extracted section
// has begun.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	switch w.phase {
	case phaseNone:
		return 0, errors.New("queue: content before SetEnvelope")
	case phaseEnvelope:
		w.startContent()
	case phaseExtracted:
		return 0, errors.New("queue: content after extracted records")
	}
	w.crc = crc32.Update(w.crc, crcTable, p)
	w.write(p)
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// Commit completes the file and makes it durable, name included, before
// it returns. After an error the file is removed and the message must not
// be acknowledged.
func (w *Writer) Commit() error {
	if w.closed {
		return errors.New("queue: Commit after Commit or Abort")
	}
	if err := w.commit(); err != nil {
		w.Abort()
		return err
	}
	w.closed = true
	return nil
}

func (w *Writer) commit() error {
	if w.err != nil {
		return w.err
	}
	if w.phase == phaseNone {
		return errors.New("queue: Commit without envelope")
	}
	switch w.phase {
	case phaseEnvelope:
		w.startExtracted()
	case phaseContent:
		w.startExtracted()
	}
	w.hdr.envLen = w.cstart - headerSize
	w.hdr.contentLen = w.xstart - w.cstart
	w.hdr.extLen = w.off - w.xstart
	var hb [headerSize]byte
	w.hdr.marshal(hb[:])
	var tb [trailerSize]byte
	marshalTrailer(tb[:], w.crc, w.nrec, hb[:])
	w.write(tb[:])
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("queue: write %s: %w", w.path, err)
	}
	if _, err := w.f.WriteAt(hb[:], 0); err != nil {
		return fmt.Errorf("queue: write %s: %w", w.path, err)
	}
	fd := int(w.f.Fd())
	if err := unix.Fchmod(fd, uint32(w.q.mode()|0100)); err != nil {
		return fmt.Errorf("queue: fchmod %s: %w", w.path, err)
	}
	// fsync, not fdatasync: the mode is metadata and must be durable.
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("queue: fsync %s: %w", w.path, err)
	}
	if w.tmp != "" {
		if err := w.q.renameNoReplace(w.tmp, w.path); err != nil {
			return fmt.Errorf("queue: commit %s: %w", w.path, err)
		}
		w.tmp = ""
	} else {
		// Make sure nobody (Cleanup) removed the name meanwhile.
		var st unix.Stat_t
		if err := unix.Stat(w.path, &st); err != nil || st.Ino != w.ino {
			return fmt.Errorf("queue: commit %s: file was removed while being written", w.path)
		}
	}
	if w.q.Method == MethodRename || !w.q.NoDirSync {
		if err := syncDir(filepath.Dir(w.path)); err != nil {
			return fmt.Errorf("queue: fsync directory of %s: %w", w.path, err)
		}
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("queue: close %s: %w", w.path, err)
	}
	return nil
}

// Abort removes the unfinished file. It is safe to call after Commit
// (it does nothing then) and more than once.
func (w *Writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.f.Close()
	name := w.tmp
	if name == "" {
		name = w.path
	}
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("queue: abort: %w", err)
	}
	return nil
}

// dirSyncer fsyncs one directory for many writers: a writer that renamed
// a file joins the next fsync that has not begun yet; one of the waiters
// runs it, and its result is every joiner's result.
type dirSyncer struct {
	mu       sync.Mutex
	cond     sync.Cond
	path     string
	fd       int
	dev, ino uint64
	next     *syncBatch
	inflight bool
}

type syncBatch struct {
	done bool
	err  error
}

var (
	dirFsyncs    atomic.Int64 // for benchmarks: directory fsyncs done
	dirSyncersMu sync.Mutex
	dirSyncers   = map[string]*dirSyncer{}
)

func syncDir(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return err
	}
	dirSyncersMu.Lock()
	s := dirSyncers[path]
	if s == nil || s.dev != st.Dev || s.ino != st.Ino {
		// New, or removed and made again: (re)open it. An old syncer's
		// descriptor stays open for writers that still use it.
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			dirSyncersMu.Unlock()
			return err
		}
		var fst unix.Stat_t
		unix.Fstat(fd, &fst)
		s = &dirSyncer{path: path, fd: fd, dev: fst.Dev, ino: fst.Ino}
		s.cond.L = &s.mu
		dirSyncers[path] = s
	}
	dirSyncersMu.Unlock()
	return s.sync()
}

func (s *dirSyncer) sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == nil {
		s.next = &syncBatch{}
	}
	b := s.next
	for s.inflight && !b.done {
		s.cond.Wait()
	}
	if b.done {
		return b.err
	}
	s.next = nil
	s.inflight = true
	s.mu.Unlock()
	err := unix.Fsync(s.fd)
	dirFsyncs.Add(1)
	s.mu.Lock()
	b.err, b.done = err, true
	s.inflight = false
	s.cond.Broadcast()
	return err
}
