package queue

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// shortEpoch is the origin of the minutes field of short queue IDs.
var shortEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

const (
	microsPerMinute = 60 * 1000 * 1000
	shortTimeDigits = 6
	// alphabet52 is Postfix's long-ID alphabet, ascending in ASCII.
	alphabet52     = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"
	longSecDigits  = 6
	longUsecDigits = 4
	longSep        = 'z'
	maxIDLen       = 64
)

// ValidID reports whether s is acceptable as a queue ID: 1 to 64 ASCII
// letters and digits (what Postfix's postsuper accepts). It never contains
// '/' or '.', so it is safe as a file name.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// FormatID returns the queue ID for a file created at micros (microseconds
// since the Unix epoch) with inode number ino; long selects Postfix's long
// format.
func FormatID(micros int64, ino uint64, long bool) string {
	if long {
		if micros < 0 {
			micros = 0
		}
		var b []byte
		b = appendBase(b, uint64(micros/1e6), 52, longSecDigits)
		b = appendBase(b, uint64(micros%1e6), 52, longUsecDigits)
		b = append(b, longSep)
		b = appendBase(b, ino, 51, 1)
		return string(b)
	}
	m := (micros - shortEpoch) / microsPerMinute
	if m < 0 {
		m = 0
	}
	s := strings.ToUpper(strconv.FormatUint(uint64(m), 16))
	if len(s) < shortTimeDigits {
		s = strings.Repeat("0", shortTimeDigits-len(s)) + s
	}
	return s + strings.ToUpper(strconv.FormatUint(ino, 16))
}

func appendBase(b []byte, v uint64, base uint64, minDigits int) []byte {
	var tmp [24]byte
	i := len(tmp)
	for v > 0 || len(tmp)-i < minDigits {
		i--
		tmp[i] = alphabet52[v%base]
		v /= base
	}
	return append(b, tmp[i:]...)
}

// ParseID decodes an ID made by FormatID: its time (truncated to minutes
// for short IDs) and inode number. ok is false for anything else.
func ParseID(id string) (t time.Time, ino uint64, long bool, ok bool) {
	if len(id) > 11 && id[10] == longSep {
		var sec, usec uint64
		if sec, ok = parseBase(id[:6], 52); !ok {
			return
		}
		if usec, ok = parseBase(id[6:10], 52); !ok || usec >= 1e6 {
			return time.Time{}, 0, false, false
		}
		if ino, ok = parseBase(id[11:], 51); !ok {
			return
		}
		return time.UnixMicro(int64(sec)*1e6 + int64(usec)), ino, true, true
	}
	if len(id) <= shortTimeDigits || len(id) > shortTimeDigits+16 {
		return
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return
		}
	}
	m, err1 := strconv.ParseUint(id[:shortTimeDigits], 16, 64)
	n, err2 := strconv.ParseUint(id[shortTimeDigits:], 16, 64)
	if err1 != nil || err2 != nil {
		return
	}
	return time.UnixMicro(shortEpoch + int64(m)*microsPerMinute), n, false, true
}

func parseBase(s string, base uint64) (uint64, bool) {
	if s == "" || len(s) > 12 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(alphabet52[:base], s[i])
		if d < 0 {
			return 0, false
		}
		v = v*base + uint64(d)
	}
	return v, true
}

// stamper hands out creation times that never go backwards within a
// process, so that IDs made later sort after IDs made earlier even when the
// system clock is stepped back.
type stamper struct {
	mu   sync.Mutex
	last int64
}

var defaultStamper stamper

func (s *stamper) now(clock func() time.Time) int64 {
	t := clock().UnixMicro()
	s.mu.Lock()
	if t < s.last {
		t = s.last
	}
	s.last = t
	s.mu.Unlock()
	return t
}

// bump is used after a name clash: the next ID tried is one resolution
// step later, so it differs from the one that clashed.
func bumpMicros(micros int64, long bool) int64 {
	if long {
		return micros + 1
	}
	return micros + microsPerMinute
}
