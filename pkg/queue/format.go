package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Version is the queue file format version this package writes.
const Version = 1

const (
	magic        = "PSTNQF"
	headerSize   = 64
	trailerSize  = 16
	trailerMagic = "QEND"
	maxRecord    = 1 << 20

	offForced = 56
	offWarned = 57

	recSender   = 'S'
	recFullName = 'N'
	recAttr     = 'A'
	recRcpt     = 'R'
	recReason   = 'D'

	statusTodo byte = '+'
	statusDone byte = 'D'
)

// DSN NOTIFY flags, Postfix's values.
const (
	NotifyNever   = 1
	NotifySuccess = 2
	NotifyFailure = 4
	NotifyDelay   = 8
)

// DSN RET values, Postfix's values.
const (
	RetFull = 1
	RetHdrs = 2
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Errors. Test with errors.Is.
var (
	// ErrCorrupt is wrapped by every error about a file that is not a
	// well-formed queue file (truncated, damaged, not a queue file).
	ErrCorrupt = errors.New("corrupt queue file")
	// ErrVersion is wrapped (besides ErrCorrupt) when the file has a
	// format version this package does not know.
	ErrVersion = errors.New("unsupported queue file version")
	// ErrIncomplete: the file is still being written (or its writer
	// died): its owner-execute bit is not set. Skip it; Cleanup removes it.
	ErrIncomplete = errors.New("queue file is incomplete")
)

// CorruptError describes a damaged queue file.
type CorruptError struct {
	Offset int64  // where the damage was found
	Reason string // what is wrong
	err    error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt queue file: offset %d: %s", e.Offset, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true (and ErrVersion where so).
func (e *CorruptError) Unwrap() []error {
	if e.err != nil {
		return []error{ErrCorrupt, e.err}
	}
	return []error{ErrCorrupt}
}

func corrupt(off int64, format string, a ...any) error {
	return &CorruptError{Offset: off, Reason: fmt.Sprintf(format, a...)}
}

type header struct {
	version    byte
	create     int64
	arrival    int64
	envLen     int64
	contentLen int64
	extLen     int64
	nrcpt      uint32
	forced     byte
	warned     byte
}

func (h *header) marshal(b []byte) {
	copy(b[0:6], magic)
	b[6] = Version
	b[7] = headerSize
	binary.LittleEndian.PutUint64(b[8:], uint64(h.create))
	binary.LittleEndian.PutUint64(b[16:], uint64(h.arrival))
	binary.LittleEndian.PutUint64(b[24:], uint64(h.envLen))
	binary.LittleEndian.PutUint64(b[32:], uint64(h.contentLen))
	binary.LittleEndian.PutUint64(b[40:], uint64(h.extLen))
	binary.LittleEndian.PutUint32(b[48:], h.nrcpt)
	binary.LittleEndian.PutUint32(b[52:], crc32.Checksum(b[:52], crcTable))
	b[offForced] = flagByte(h.forced == '1')
	b[offWarned] = flagByte(h.warned == '1')
	copy(b[58:64], "000000")
}

func flagByte(on bool) byte {
	if on {
		return '1'
	}
	return '0'
}

// parseHeader checks the 64 header bytes and the section lengths against
// the file size.
func parseHeader(b []byte, size int64) (header, error) {
	var h header
	if len(b) < headerSize || string(b[0:6]) != magic {
		return h, corrupt(0, "not a postern queue file")
	}
	if b[6] != Version {
		return h, &CorruptError{Offset: 6, Reason: fmt.Sprintf("format version %d, this program reads %d", b[6], Version), err: ErrVersion}
	}
	if b[7] != headerSize {
		return h, corrupt(7, "bad header size %d", b[7])
	}
	if got, want := crc32.Checksum(b[:52], crcTable), binary.LittleEndian.Uint32(b[52:]); got != want {
		return h, corrupt(52, "header checksum mismatch")
	}
	h.version = b[6]
	h.create = int64(binary.LittleEndian.Uint64(b[8:]))
	h.arrival = int64(binary.LittleEndian.Uint64(b[16:]))
	h.envLen = int64(binary.LittleEndian.Uint64(b[24:]))
	h.contentLen = int64(binary.LittleEndian.Uint64(b[32:]))
	h.extLen = int64(binary.LittleEndian.Uint64(b[40:]))
	h.nrcpt = binary.LittleEndian.Uint32(b[48:])
	h.forced, h.warned = b[offForced], b[offWarned]
	for _, f := range []byte{h.forced, h.warned} {
		if f != '0' && f != '1' {
			return h, corrupt(offForced, "bad flag byte %#x", f)
		}
	}
	if string(b[58:64]) != "000000" {
		return h, corrupt(58, "bad reserved bytes")
	}
	// Sections must fit in the file; check without overflow.
	rest := size - headerSize - trailerSize
	for _, l := range []int64{h.envLen, h.contentLen, h.extLen} {
		if l < 0 || l > rest {
			return h, corrupt(24, "section length %d exceeds file size %d (truncated?)", l, size)
		}
		rest -= l
	}
	return h, nil
}

func (h *header) trailerOff() int64 { return headerSize + h.envLen + h.contentLen + h.extLen }

func marshalTrailer(b []byte, contentCRC, nrec uint32, hdr []byte) {
	copy(b[0:4], trailerMagic)
	binary.LittleEndian.PutUint32(b[4:], contentCRC)
	binary.LittleEndian.PutUint32(b[8:], nrec)
	c := crc32.Update(crc32.Checksum(b[:12], crcTable), crcTable, hdr[:52])
	binary.LittleEndian.PutUint32(b[12:], c)
}

func parseTrailer(b, hdr []byte, off int64) (contentCRC, nrec uint32, err error) {
	if len(b) < trailerSize || string(b[0:4]) != trailerMagic {
		return 0, 0, corrupt(off, "end marker missing (truncated?)")
	}
	c := crc32.Update(crc32.Checksum(b[:12], crcTable), crcTable, hdr[:52])
	if c != binary.LittleEndian.Uint32(b[12:]) {
		return 0, 0, corrupt(off+12, "trailer checksum mismatch")
	}
	return binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:]), nil
}

// appendRecord frames payload as a record of type typ.
func appendRecord(dst []byte, typ byte, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, typ)
	dst = binary.AppendUvarint(dst, uint64(len(payload)))
	dst = append(dst, payload...)
	c := recordCRC(dst[start:], typ, len(dst)-start-len(payload))
	return binary.LittleEndian.AppendUint32(dst, c)
}

// recordCRC computes the CRC of a framed record without its CRC; pre is
// the length of type and length bytes. A recipient's status byte counts
// as 0.
func recordCRC(rec []byte, typ byte, pre int) uint32 {
	if typ == recRcpt && len(rec) > pre {
		c := crc32.Update(0, crcTable, rec[:pre])
		c = crc32.Update(c, crcTable, []byte{0})
		return crc32.Update(c, crcTable, rec[pre+1:])
	}
	return crc32.Checksum(rec, crcTable)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads the fields of one payload; any error sticks.
type decoder struct {
	b   []byte
	off int64 // file offset of b[0], for errors
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintLen(v) {
		d.err = corrupt(d.off, "bad number")
		return 0
	}
	d.b = d.b[n:]
	d.off += int64(n)
	return v
}

func (d *decoder) byte1() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.err = corrupt(d.off, "record too short")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	d.off++
	return c
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = corrupt(d.off, "string runs past its record")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	d.off += int64(n)
	return s
}

func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = corrupt(d.off, "%d extra bytes in record", len(d.b))
	}
	return d.err
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
