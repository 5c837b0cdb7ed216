package queue

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

const (
	headRead       = 4096     // bytes read at Open: header and, usually, the envelope
	maxJournalRead = 16 << 20 // journal bytes read at Open; more are ignored
)

// File is an open queue file. Open gives a read-only one; OpenRW one
// that MarkDone and the other setters may change. Not safe for
// concurrent use.
type File struct {
	f        *os.File
	r        io.ReaderAt
	writable bool
	path, id string
	size     int64

	h          header
	hb         [headerSize]byte
	head       []byte // file bytes [0, len(head))
	tailOff    int64  // trailer offset
	tail       []byte // file bytes [tailOff, tailOff+len(tail))
	contentCRC uint32
	nrec       uint32

	journalEnd int64
	reasonOf   map[int]int // recipient -> index in reasons
	reasons    []string

	offsets []int64 // status byte offset of each recipient, built lazily
}

// Open opens a queue file for reading and checks its header and trailer.
// A file still being written gives ErrIncomplete; a damaged one an error
// wrapping ErrCorrupt.
func Open(path string) (*File, error) { return open(path, false) }

// OpenRW opens a queue file for reading and for MarkDone and the other
// in-place updates.
func OpenRW(path string) (*File, error) { return open(path, true) }

func open(path string, rw bool) (*File, error) {
	flag := os.O_RDONLY
	if rw {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, corrupt(0, "not a regular file")
	}
	if st.Mode&0100 == 0 {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, ErrIncomplete)
	}
	qf, err := parse(f, st.Size)
	if err != nil {
		f.Close()
		return nil, err
	}
	qf.f, qf.writable, qf.path, qf.id = f, rw, path, filepath.Base(path)
	return qf, nil
}

// Parse reads a queue file of size bytes from r (for tests and tools
// that have the bytes elsewhere); the result cannot be changed.
func Parse(r io.ReaderAt, size int64) (*File, error) { return parse(r, size) }

func parse(r io.ReaderAt, size int64) (*File, error) {
	if size < headerSize+trailerSize {
		return nil, corrupt(0, "file too short (%d bytes)", size)
	}
	qf := &File{r: r, size: size}
	n := min(size, headRead)
	qf.head = make([]byte, n)
	if _, err := r.ReadAt(qf.head, 0); err != nil && !(errors.Is(err, io.EOF)) {
		return nil, err
	}
	h, err := parseHeader(qf.head, size)
	if err != nil {
		return nil, err
	}
	qf.h = h
	copy(qf.hb[:], qf.head[:headerSize])
	qf.tailOff = h.trailerOff()
	tl := min(size-qf.tailOff, trailerSize+maxJournalRead)
	if qf.tailOff+tl <= int64(len(qf.head)) {
		qf.tail = qf.head[qf.tailOff : qf.tailOff+tl]
	} else {
		qf.tail = make([]byte, tl)
		if _, err := r.ReadAt(qf.tail, qf.tailOff); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
	}
	if qf.contentCRC, qf.nrec, err = parseTrailer(qf.tail, qf.hb[:], qf.tailOff); err != nil {
		return nil, err
	}
	if h.nrcpt > qf.nrec {
		return nil, corrupt(48, "recipient count %d exceeds record count %d", h.nrcpt, qf.nrec)
	}
	qf.readJournal()
	return qf, nil
}

// readJournal loads the delay reasons; it stops at the first record that
// is not whole and valid (a torn append).
func (qf *File) readJournal() {
	b := qf.tail[trailerSize:]
	off := qf.tailOff + trailerSize
	for len(b) > 0 {
		typ, payload, n, ok := splitRecord(b)
		if !ok || typ != recReason {
			break
		}
		d := decoder{b: payload, off: off}
		cnt := d.uvarint()
		if d.err != nil || cnt > uint64(len(payload)) {
			break
		}
		idx := make([]int, 0, cnt)
		for i := uint64(0); i < cnt; i++ {
			v := d.uvarint()
			if v >= uint64(qf.h.nrcpt) {
				d.err = corrupt(d.off, "bad recipient number")
			}
			idx = append(idx, int(v))
		}
		reason := d.str()
		if d.end() != nil {
			break
		}
		if qf.reasonOf == nil {
			qf.reasonOf = map[int]int{}
		}
		qf.reasons = append(qf.reasons, reason)
		for _, i := range idx {
			qf.reasonOf[i] = len(qf.reasons) - 1
		}
		b = b[n:]
		off += int64(n)
	}
	qf.journalEnd = off
}

// splitRecord takes one framed record off b.
func splitRecord(b []byte) (typ byte, payload []byte, n int, ok bool) {
	if len(b) < 1 {
		return
	}
	l, k := binary.Uvarint(b[1:])
	if k <= 0 || k != uvarintLen(l) || l > maxRecord || uint64(len(b)-1-k) < l+4 {
		return
	}
	pre := 1 + k
	end := pre + int(l)
	if recordCRC(b[:end], b[0], pre) != binary.LittleEndian.Uint32(b[end:]) {
		return
	}
	return b[0], b[pre:end], end + 4, true
}

// ID returns the queue ID (the file's base name).
func (qf *File) ID() string { return qf.id }

// Path returns the path the file was opened by.
func (qf *File) Path() string { return qf.path }

// CreateTime returns create_time.
func (qf *File) CreateTime() time.Time { return time.UnixMicro(qf.h.create) }

// ArrivalTime returns message_arrival_time.
func (qf *File) ArrivalTime() time.Time { return time.UnixMicro(qf.h.arrival) }

// MessageSize returns message_size, the content length.
func (qf *File) MessageSize() int64 { return qf.h.contentLen }

// NumRecipients returns the number of recipients, done ones included.
func (qf *File) NumRecipients() int { return int(qf.h.nrcpt) }

// ForcedExpire reports the forced_expire flag (postsuper -e).
func (qf *File) ForcedExpire() bool { return qf.h.forced == '1' }

// DelayWarned reports whether the delay warning was sent.
func (qf *File) DelayWarned() bool { return qf.h.warned == '1' }

// Close closes the file.
func (qf *File) Close() error {
	if qf.f == nil {
		return nil
	}
	return qf.f.Close()
}

// readAt serves reads from the cached head and tail when it can.
type cachedReader struct{ qf *File }

func (c cachedReader) ReadAt(p []byte, off int64) (int, error) {
	qf := c.qf
	if off >= 0 && off+int64(len(p)) <= int64(len(qf.head)) {
		return copy(p, qf.head[off:]), nil
	}
	if off >= qf.tailOff && off+int64(len(p)) <= qf.tailOff+int64(len(qf.tail)) {
		return copy(p, qf.tail[off-qf.tailOff:]), nil
	}
	return qf.r.ReadAt(p, off)
}

// recIter reads the records of one section.
type recIter struct {
	br   *bufio.Reader
	off  int64 // offset of the next record
	end  int64
	buf  []byte
	pre  [1 + binary.MaxVarintLen64]byte
	sect int
}

func (qf *File) iter(start, length int64, sect int) *recIter {
	size := 4096
	if length < int64(size) {
		size = max(int(length), 16)
	}
	return &recIter{
		br:   bufio.NewReaderSize(io.NewSectionReader(cachedReader{qf}, start, length), size),
		off:  start,
		end:  start + length,
		sect: sect,
	}
}

// next returns the next record; io.EOF at the end of the section.
// statusOff is the offset of the payload's first byte.
func (it *recIter) next() (typ byte, payload []byte, payOff int64, err error) {
	if it.off == it.end {
		return 0, nil, 0, io.EOF
	}
	start := it.off
	typ, err = it.br.ReadByte()
	if err != nil {
		return 0, nil, 0, corrupt(start, "record runs past its section")
	}
	it.pre[0] = typ
	var l uint64
	k := 0
	for shift := uint(0); ; shift += 7 {
		c, err := it.br.ReadByte()
		if err != nil || k == binary.MaxVarintLen64 {
			return 0, nil, 0, corrupt(start, "bad record length")
		}
		it.pre[1+k] = c
		k++
		l |= uint64(c&0x7f) << shift
		if c < 0x80 {
			if k > 1 && c == 0 {
				return 0, nil, 0, corrupt(start, "bad record length")
			}
			break
		}
	}
	pre := 1 + k
	if l > maxRecord || uint64(it.end-start-int64(pre)) < l+4 {
		return 0, nil, 0, corrupt(start, "record length %d runs past its section", l)
	}
	need := pre + int(l) + 4
	if cap(it.buf) < need {
		it.buf = make([]byte, need)
	}
	b := it.buf[:need]
	copy(b, it.pre[:pre])
	if _, err := io.ReadFull(it.br, b[pre:]); err != nil {
		return 0, nil, 0, corrupt(start, "short record: %v", err)
	}
	end := pre + int(l)
	if recordCRC(b[:end], typ, pre) != binary.LittleEndian.Uint32(b[end:]) {
		return 0, nil, 0, corrupt(start, "record checksum mismatch")
	}
	it.off += int64(need)
	return typ, b[pre:end], start + int64(pre), nil
}

const (
	sectEnvelope = iota
	sectExtracted
)

// walk reads every record of the envelope and extracted sections in
// order, checks their order and counts, and calls fn for each. fn may
// return errStop to end early without the count checks.
func (qf *File) walk(fn func(typ byte, payload []byte, payOff int64, sect int) error) error {
	var nrec, nrcpt uint32
	sections := []struct{ start, length int64 }{
		{headerSize, qf.h.envLen},
		{headerSize + qf.h.envLen + qf.h.contentLen, qf.h.extLen},
	}
	for sect, s := range sections {
		it := qf.iter(s.start, s.length, sect)
		prev := byte(0)
		for {
			typ, payload, payOff, err := it.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			recOff := payOff - 1
			ok := false
			switch sect {
			case sectEnvelope:
				switch typ {
				case recSender:
					ok = prev == 0
				case recFullName:
					ok = prev == recSender
				case recAttr:
					ok = prev != 0 && prev != recRcpt
				case recRcpt:
					ok = prev != 0
				}
				if prev == 0 && typ != recSender {
					return corrupt(recOff, "envelope does not begin with the sender")
				}
			case sectExtracted:
				ok = typ == recAttr || typ == recRcpt
			}
			if !ok {
				return corrupt(recOff, "unexpected record type %q", typ)
			}
			prev = typ
			nrec++
			if typ == recRcpt {
				nrcpt++
				if nrcpt > qf.h.nrcpt {
					return corrupt(recOff, "more recipients than the header says")
				}
			}
			if err := fn(typ, payload, payOff, sect); err != nil {
				return err
			}
		}
		if sect == sectEnvelope && prev == 0 {
			return corrupt(headerSize, "no sender record")
		}
	}
	if nrec != qf.nrec || nrcpt != qf.h.nrcpt {
		return corrupt(qf.tailOff, "record count %d/%d does not match %d/%d", nrec, nrcpt, qf.nrec, qf.h.nrcpt)
	}
	return nil
}

var errStop = errors.New("stop")

// Envelope reads the sender and named attributes (not the recipients and
// not the content).
func (qf *File) Envelope() (*Envelope, error) {
	e := &Envelope{CreateTime: qf.CreateTime(), ArrivalTime: qf.ArrivalTime()}
	skipExtracted := qf.h.extLen == 0
	err := qf.walk(func(typ byte, payload []byte, payOff int64, sect int) error {
		d := decoder{b: payload, off: payOff}
		switch typ {
		case recSender:
			e.Sender = d.str()
		case recFullName:
			e.SenderFullName = d.str()
		case recAttr:
			name, value := d.str(), d.str()
			if sect == sectExtracted {
				e.Extracted = append(e.Extracted, Attr{name, value})
			} else {
				e.SetAttr(name, value)
			}
		case recRcpt:
			if sect == sectEnvelope && skipExtracted {
				return errStop
			}
			return nil
		}
		return d.end()
	})
	if err != nil && err != errStop {
		return nil, err
	}
	return e, nil
}

// Recipients calls fn for each recipient, in file order, done ones
// included (check r.Done), with r.DelayReason filled in. An error from fn
// stops it and is returned.
func (qf *File) Recipients(fn func(r Recipient) error) error {
	idx := 0
	return qf.walk(func(typ byte, payload []byte, payOff int64, sect int) error {
		if typ != recRcpt {
			return nil
		}
		r, err := decodeRecipient(payload, payOff)
		if err != nil {
			return err
		}
		r.Index = idx
		r.Extracted = sect == sectExtracted
		if k, ok := qf.reasonOf[idx]; ok {
			r.DelayReason = qf.reasons[k]
		}
		if idx == len(qf.offsets) {
			qf.offsets = append(qf.offsets, payOff)
		}
		idx++
		return fn(r)
	})
}

func decodeRecipient(payload []byte, payOff int64) (Recipient, error) {
	d := decoder{b: payload, off: payOff}
	var r Recipient
	switch st := d.byte1(); st {
	case statusTodo:
	case statusDone:
		r.Done = true
	default:
		if d.err == nil {
			return r, corrupt(payOff, "bad recipient status byte %#x", st)
		}
	}
	n := d.byte1()
	if n > 15 {
		return r, corrupt(payOff+1, "bad notify flags %#x", n)
	}
	r.Notify = int(n)
	r.Address = d.str()
	r.OrigAddress = d.str()
	r.ORCPT = d.str()
	return r, d.end()
}

// Content returns a reader of the message content (headers and body).
// It does not check the content's checksum; see ContentReader and Verify.
func (qf *File) Content() *io.SectionReader {
	return io.NewSectionReader(qf.r, headerSize+qf.h.envLen, qf.h.contentLen)
}

// ContentReader returns a reader of the content that checks its checksum
// at the end: the last Read returns an error wrapping ErrCorrupt instead
// of io.EOF when the content was damaged.
func (qf *File) ContentReader() io.Reader {
	return &crcReader{r: qf.Content(), want: qf.contentCRC, off: headerSize + qf.h.envLen}
}

type crcReader struct {
	r    io.Reader
	crc  uint32
	want uint32
	off  int64
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc = crc32.Update(c.crc, crcTable, p[:n])
	if err == io.EOF && c.crc != c.want {
		err = corrupt(c.off, "content checksum mismatch")
	}
	return n, err
}

// Verify reads the whole file and checks every record and the content.
func (qf *File) Verify() error {
	err := qf.walk(func(typ byte, payload []byte, payOff int64, sect int) error {
		d := decoder{b: payload, off: payOff}
		switch typ {
		case recSender, recFullName:
			d.str()
		case recAttr:
			d.str()
			d.str()
		case recRcpt:
			_, err := decodeRecipient(payload, payOff)
			return err
		}
		return d.end()
	})
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, qf.ContentReader())
	return err
}

// statusOffset returns the offset of recipient i's status byte.
func (qf *File) statusOffset(i int) (int64, error) {
	if i < 0 || i >= int(qf.h.nrcpt) {
		return 0, fmt.Errorf("queue: %s: no recipient %d", qf.id, i)
	}
	if i >= len(qf.offsets) {
		idx := 0
		qf.offsets = qf.offsets[:0]
		err := qf.walk(func(typ byte, payload []byte, payOff int64, sect int) error {
			if typ == recRcpt {
				if len(payload) == 0 || payload[0] != statusTodo && payload[0] != statusDone {
					return corrupt(payOff, "bad recipient record")
				}
				qf.offsets = append(qf.offsets, payOff)
				idx++
			}
			return nil
		})
		if err != nil {
			qf.offsets = nil
			return 0, err
		}
	}
	return qf.offsets[i], nil
}

func (qf *File) checkWritable() error {
	if !qf.writable || qf.f == nil {
		return fmt.Errorf("queue: %s: not opened for update", qf.id)
	}
	return nil
}

// MarkDone marks recipient i done, durably, before it returns.
func (qf *File) MarkDone(i int) error { return qf.MarkDoneBatch([]int{i}) }

// MarkDoneBatch marks several recipients done with one fdatasync.
func (qf *File) MarkDoneBatch(idx []int) error {
	if err := qf.checkWritable(); err != nil {
		return err
	}
	done := []byte{statusDone}
	for _, i := range idx {
		off, err := qf.statusOffset(i)
		if err != nil {
			return err
		}
		if _, err := qf.f.WriteAt(done, off); err != nil {
			return fmt.Errorf("queue: %s: mark done: %w", qf.id, err)
		}
		qf.patchCache(off, statusDone)
	}
	if err := unix.Fdatasync(int(qf.f.Fd())); err != nil {
		return fmt.Errorf("queue: %s: fdatasync: %w", qf.id, err)
	}
	return nil
}

// patchCache keeps the cached head in step with an in-place write.
func (qf *File) patchCache(off int64, b byte) {
	if off < int64(len(qf.head)) {
		qf.head[off] = b
	}
	if off >= qf.tailOff && off < qf.tailOff+int64(len(qf.tail)) {
		qf.tail[off-qf.tailOff] = b
	}
}

func (qf *File) setFlag(off int64, on bool) error {
	if err := qf.checkWritable(); err != nil {
		return err
	}
	b := flagByte(on)
	if _, err := qf.f.WriteAt([]byte{b}, off); err != nil {
		return fmt.Errorf("queue: %s: %w", qf.id, err)
	}
	qf.patchCache(off, b)
	qf.hb[off] = b
	if off == offForced {
		qf.h.forced = b
	} else {
		qf.h.warned = b
	}
	if err := unix.Fdatasync(int(qf.f.Fd())); err != nil {
		return fmt.Errorf("queue: %s: fdatasync: %w", qf.id, err)
	}
	return nil
}

// SetForcedExpire sets or clears forced_expire, durably.
func (qf *File) SetForcedExpire(on bool) error { return qf.setFlag(offForced, on) }

// SetDelayWarned records that the delay warning was sent, durably.
func (qf *File) SetDelayWarned(on bool) error { return qf.setFlag(offWarned, on) }

// SetDelayReason records reason as the delay reason of the recipients
// idx, appending one journal record (without fsync: a reason is advisory).
func (qf *File) SetDelayReason(idx []int, reason string) error {
	if err := qf.checkWritable(); err != nil {
		return err
	}
	p := binary.AppendUvarint(nil, uint64(len(idx)))
	for _, i := range idx {
		if i < 0 || i >= int(qf.h.nrcpt) {
			return fmt.Errorf("queue: %s: no recipient %d", qf.id, i)
		}
		p = binary.AppendUvarint(p, uint64(i))
	}
	p = appendString(p, reason)
	if len(p) > maxRecord {
		return fmt.Errorf("queue: %s: delay reason record too long", qf.id)
	}
	rec := appendRecord(nil, recReason, p)
	if qf.size != qf.journalEnd {
		// Drop a torn record left by a crash (or what was not read).
		if err := qf.f.Truncate(qf.journalEnd); err != nil {
			return fmt.Errorf("queue: %s: %w", qf.id, err)
		}
	}
	if _, err := qf.f.WriteAt(rec, qf.journalEnd); err != nil {
		return fmt.Errorf("queue: %s: %w", qf.id, err)
	}
	qf.journalEnd += int64(len(rec))
	qf.size = qf.journalEnd
	if qf.reasonOf == nil {
		qf.reasonOf = map[int]int{}
	}
	qf.reasons = append(qf.reasons, reason)
	for _, i := range idx {
		qf.reasonOf[i] = len(qf.reasons) - 1
	}
	return nil
}

// ClearDelayReasons removes every delay reason (qmgr does it when it
// retries the message).
func (qf *File) ClearDelayReasons() error {
	if err := qf.checkWritable(); err != nil {
		return err
	}
	end := qf.tailOff + trailerSize
	if err := qf.f.Truncate(end); err != nil {
		return fmt.Errorf("queue: %s: %w", qf.id, err)
	}
	qf.journalEnd, qf.size = end, end
	qf.reasonOf, qf.reasons = nil, nil
	qf.tail = qf.tail[:min(len(qf.tail), trailerSize)]
	return nil
}
