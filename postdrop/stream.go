package postdrop

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Record types of the submission stream (see the package comment).
const (
	RecMagic     = 'V' // "PSTNDROP1", first
	RecSender    = 'S'
	RecFullName  = 'N'
	RecAttr      = 'A' // string name, then the value (rest of the payload)
	RecRecipient = 'R' // notify byte, then the address
	RecContent   = 'C' // a chunk of message content
	RecExtracted = 'X' // notify byte, then an address extracted from headers
	RecEnd       = 'E' // the stream is complete: commit
	RecAbort     = 'Q' // the submitter gave up: discard quietly
)

// Magic is the payload of the first record.
const Magic = "PSTNDROP1"

// MaxRecord bounds the payload of one record.
const MaxRecord = 1 << 20

// ErrFormat is wrapped by every error about a malformed stream.
var ErrFormat = errors.New("malformed submission stream")

// StreamWriter writes a submission stream.
type StreamWriter struct {
	w   *bufio.Writer
	err error
}

// NewStreamWriter starts a stream on w with its magic record.
func NewStreamWriter(w io.Writer) *StreamWriter {
	s := &StreamWriter{w: bufio.NewWriterSize(w, 64<<10)}
	s.Record(RecMagic, []byte(Magic))
	return s
}

// Record writes one record.
func (s *StreamWriter) Record(typ byte, payload []byte) error {
	if s.err != nil {
		return s.err
	}
	if len(payload) > MaxRecord {
		s.err = fmt.Errorf("record too long (%d bytes)", len(payload))
		return s.err
	}
	var hdr [1 + binary.MaxVarintLen64]byte
	hdr[0] = typ
	n := binary.PutUvarint(hdr[1:], uint64(len(payload)))
	if _, err := s.w.Write(hdr[:1+n]); err != nil {
		s.err = err
		return err
	}
	if _, err := s.w.Write(payload); err != nil {
		s.err = err
	}
	return s.err
}

// String writes a record whose payload is s.
func (s *StreamWriter) String(typ byte, v string) error { return s.Record(typ, []byte(v)) }

// Attr writes a named attribute.
func (s *StreamWriter) Attr(name, value string) error {
	b := binary.AppendUvarint(nil, uint64(len(name)))
	b = append(b, name...)
	b = append(b, value...)
	return s.Record(RecAttr, b)
}

// Recipient writes an envelope (RecRecipient) or extracted (RecExtracted)
// recipient with its DSN notify flags.
func (s *StreamWriter) Recipient(typ byte, notify int, addr string) error {
	b := make([]byte, 0, 1+len(addr))
	b = append(b, byte(notify))
	b = append(b, addr...)
	return s.Record(typ, b)
}

// Write writes p as content records; it makes StreamWriter an io.Writer for
// the message content.
func (s *StreamWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), 64<<10)
		if err := s.Record(RecContent, p[:c]); err != nil {
			return n, err
		}
		n += c
		p = p[c:]
	}
	return n, nil
}

// Flush flushes buffered records.
func (s *StreamWriter) Flush() error {
	if s.err != nil {
		return s.err
	}
	s.err = s.w.Flush()
	return s.err
}

// StreamReader reads a submission stream.
type StreamReader struct {
	r   *bufio.Reader
	buf []byte
}

// NewStreamReader reads the stream from r and checks its magic record.
func NewStreamReader(r io.Reader) (*StreamReader, error) {
	s := &StreamReader{r: bufio.NewReaderSize(r, 64<<10)}
	typ, p, err := s.Next()
	if err != nil {
		return nil, err
	}
	if typ != RecMagic || string(p) != Magic {
		return nil, fmt.Errorf("%w: bad magic record", ErrFormat)
	}
	return s, nil
}

// Next returns the next record. The payload is valid until the next call.
// At the end of input it returns io.EOF (only between records;
// a record cut short is io.ErrUnexpectedEOF).
func (s *StreamReader) Next() (byte, []byte, error) {
	typ, err := s.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, err := binary.ReadUvarint(s.r)
	if err != nil {
		return 0, nil, unexpected(err)
	}
	if n > MaxRecord {
		return 0, nil, fmt.Errorf("%w: record type %d length %d", ErrFormat, typ, n)
	}
	if cap(s.buf) < int(n) {
		s.buf = make([]byte, n)
	}
	p := s.buf[:n]
	if _, err := io.ReadFull(s.r, p); err != nil {
		return 0, nil, unexpected(err)
	}
	return typ, p, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ParseAttr splits an RecAttr payload.
func ParseAttr(p []byte) (name, value string, err error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return "", "", fmt.Errorf("%w: bad attribute record", ErrFormat)
	}
	return string(p[k : k+int(n)]), string(p[k+int(n):]), nil
}

// ParseRecipient splits a RecRecipient or RecExtracted payload.
func ParseRecipient(p []byte) (notify int, addr string, err error) {
	if len(p) < 1 {
		return 0, "", fmt.Errorf("%w: empty recipient record", ErrFormat)
	}
	return int(p[0]), string(p[1:]), nil
}
