package bounce

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Record is one recipient status in a per-message log (the fields of
// proto StatusRecord; the JSON names are the log format's).
type Record struct {
	Index    uint32 `json:"index"`
	Address  string `json:"recipient"`
	Original string `json:"orig_rcpt,omitempty"`
	ORCPT    string `json:"dsn_orig_rcpt,omitempty"`
	Notify   uint32 `json:"dsn_notify,omitempty"`
	Action   string `json:"action"`
	Status   string `json:"status"`
	Text     string `json:"reason,omitempty"`
	DiagType string `json:"diag_type,omitempty"`
	DiagText string `json:"diag_text,omitempty"`
	Relay    string `json:"relay,omitempty"`
	TimeUS   int64  `json:"time_us,omitempty"`
}

// maxRecord bounds one log line; a longer line is damage.
const maxRecord = 1 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// encodeRecord returns the log line of rec: 8 hex digits of the CRC-32C of
// the JSON text, a blank, the JSON text, LF.
func encodeRecord(rec *Record) ([]byte, error) {
	js, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	line := make([]byte, 0, len(js)+10)
	line = fmt.Appendf(line, "%08x ", crc32.Checksum(js, crcTable))
	line = append(line, js...)
	return append(line, '\n'), nil
}

// decodeRecord parses one log line (without its LF).
func decodeRecord(line []byte) (*Record, error) {
	if len(line) < 10 || line[8] != ' ' {
		return nil, errors.New("malformed record")
	}
	var sum uint32
	for _, c := range line[:8] {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		default:
			return nil, errors.New("malformed checksum")
		}
		sum = sum<<4 | uint32(v)
	}
	js := line[9:]
	if crc32.Checksum(js, crcTable) != sum {
		return nil, errors.New("checksum mismatch")
	}
	rec := new(Record)
	if err := json.Unmarshal(js, rec); err != nil {
		return nil, fmt.Errorf("bad record: %w", err)
	}
	if rec.Address == "" && rec.Action == "" {
		return nil, errors.New("record without recipient and action")
	}
	return rec, nil
}

// ReadLog parses a whole log, a line at a time. A last line without LF is
// a write torn by a crash and is left out silently; a damaged line
// elsewhere is left out and reported through bad (line number from 1,
// reason).
func ReadLog(r io.Reader, bad func(line int, err error)) ([]*Record, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var recs []*Record
	var line []byte
	tooLong := false
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case tooLong:
		case len(line)+len(chunk) > maxRecord+1:
			tooLong, line = true, line[:0]
		default:
			line = append(line, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			return recs, nil // a torn tail, or nothing, is left
		}
		if err != nil {
			return nil, err
		}
		n++
		if tooLong {
			if bad != nil {
				bad(n, errors.New("record too long"))
			}
		} else if len(line) > 1 { // an empty line separates a torn tail
			rec, derr := decodeRecord(line[:len(line)-1])
			if derr == nil {
				recs = append(recs, rec)
			} else if bad != nil {
				bad(n, derr)
			}
		}
		line, tooLong = line[:0], false
	}
}

// appendLog appends recs to the log at path durably: one write of whole
// lines under an exclusive lock, fsync of the file, and of the directory
// when the file is new. A tail torn by a crash is ended with LF first, so
// that it spoils no new record. A log that Flush removed while we waited
// for the lock is not written to: the records go to a new file.
func appendLog(path string, recs []*Record) error {
	var buf []byte
	for _, rec := range recs {
		line, err := encodeRecord(rec)
		if err != nil {
			return err
		}
		buf = append(buf, line...)
	}
	for try := 0; try < 10; try++ {
		created := true
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			created = false
			f, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
			if errors.Is(err, os.ErrNotExist) {
				continue // removed meanwhile
			}
		}
		if err != nil {
			return err
		}
		retry, err := appendLocked(f, path, buf)
		cerr := f.Close()
		if retry {
			continue
		}
		if err == nil {
			err = cerr
		}
		if err == nil && created {
			err = syncDir(filepath.Dir(path))
		}
		return err
	}
	return fmt.Errorf("append %s: log keeps disappearing", path)
}

func appendLocked(f *os.File, path string, buf []byte) (retry bool, err error) {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return false, fmt.Errorf("lock %s: %w", path, err)
	}
	var st, pst unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false, err
	}
	if err := unix.Stat(path, &pst); err != nil || pst.Ino != st.Ino || pst.Dev != st.Dev {
		return true, nil // Flush removed it: start a new log
	}
	if st.Size > 0 {
		last := make([]byte, 1)
		if _, err := unix.Pread(int(f.Fd()), last, st.Size-1); err == nil && last[0] != '\n' {
			buf = append([]byte{'\n'}, buf...)
		}
	}
	if _, err := f.Write(buf); err != nil {
		// Leave no partial record that looks whole: a short write ends
		// without LF, which readers ignore; cut it off anyway.
		_ = f.Truncate(st.Size)
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return false, fmt.Errorf("fsync %s: %w", path, err)
	}
	return false, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// lockedLog is a log opened by Flush: locked against Append until it is
// removed or closed.
type lockedLog struct {
	f    *os.File
	path string
}

// openLog opens and locks the log at path; nil, nil when there is none.
func openLog(path string) (*lockedLog, error) {
	for try := 0; try < 10; try++ {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		var st, pst unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			f.Close()
			return nil, err
		}
		if err := unix.Stat(path, &pst); err != nil || pst.Ino != st.Ino || pst.Dev != st.Dev {
			f.Close() // removed by a concurrent Flush; look again
			continue
		}
		return &lockedLog{f: f, path: path}, nil
	}
	return nil, fmt.Errorf("open %s: log keeps changing", path)
}

func (l *lockedLog) read(bad func(int, error)) ([]*Record, error) {
	if _, err := l.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return ReadLog(l.f, bad)
}

// remove deletes the log (still holding the lock, so that a waiting Append
// sees it gone and starts a new one) and closes it.
func (l *lockedLog) remove() error {
	err := os.Remove(l.path)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (l *lockedLog) close() error { return l.f.Close() }
