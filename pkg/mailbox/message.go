package mailbox

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Message is what is written.
type Message struct {
	Sender      string    // envelope sender; "" means MAILER-DAEMON in the From_ line
	ArrivalTime time.Time // for the mbox From_ line date; zero means now
	Prepend     []byte    // header lines the caller adds first (Return-Path:, Delivered-To:, X-Original-To:), each ending in "\n"
	Content     io.Reader // the message as stored in the queue: headers and body, lines ending in "\n"
}

// FromLine returns the mbox From_ line for m, with its "\n": "From ",
// the sender (QuoteLocal'ed; MAILER-DAEMON for the null sender), two
// spaces and the arrival time as asctime(3) prints it in local time.
func FromLine(sender string, arrival time.Time) string {
	if sender == "" {
		sender = "MAILER-DAEMON"
	} else {
		sender = QuoteLocal(sender)
	}
	if arrival.IsZero() {
		arrival = time.Now()
	}
	return "From " + sender + "  " + arrival.Local().Format("Mon Jan _2 15:04:05 2006") + "\n"
}

// QuoteLocal quotes the local part of addr (everything before the last
// "@") as Postfix's quote_822_local() does: a local part that is not a
// dot-atom (empty, a leading, trailing or doubled dot, a space, a control
// character or one of ()<>@,;:\"[]) becomes a quoted string with " and \
// backslash-escaped. 8-bit characters are left alone.
func QuoteLocal(addr string) string {
	local, domain := addr, ""
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		local, domain = addr[:i], addr[i:]
	}
	if isDotAtom(local) {
		return addr
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(local); i++ {
		switch c := local[i]; c {
		case '"', '\\', '\r':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String() + domain
}

func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c < 0x20 || c == 0x7f || strings.IndexByte(`()<>@,;:\"[]`, c) >= 0 {
			return false
		}
	}
	return true
}

// FromQuoter is an io.Writer that puts ">" before every line that starts
// exactly with "From " (and no other: ">From " stays as it is, as in
// Postfix; this is the mboxo format, not mboxrd). Lines may arrive split
// across any number of writes. Flush writes a held-back partial "From"
// at the very end of the input.
type FromQuoter struct {
	w    io.Writer
	mid  bool // not at the start of a line
	held int  // bytes of "From " matched at the start of this line, not yet written
}

// NewFromQuoter returns a FromQuoter writing to w, at the start of a line.
func NewFromQuoter(w io.Writer) *FromQuoter { return &FromQuoter{w: w} }

const fromPrefix = "From "

func (q *FromQuoter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if !q.mid {
			k := 0
			for k < len(p) && q.held+k < len(fromPrefix) && p[k] == fromPrefix[q.held+k] {
				k++
			}
			switch {
			case q.held+k == len(fromPrefix):
				if _, err := io.WriteString(q.w, ">"+fromPrefix); err != nil {
					return 0, err
				}
			case k == len(p):
				q.held += k
				return n, nil
			default:
				if _, err := io.WriteString(q.w, fromPrefix[:q.held+k]); err != nil {
					return 0, err
				}
			}
			p = p[k:]
			q.held = 0
			q.mid = true
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if _, err := q.w.Write(p); err != nil {
				return 0, err
			}
			return n, nil
		}
		if _, err := q.w.Write(p[:i+1]); err != nil {
			return 0, err
		}
		p = p[i+1:]
		q.mid = false
	}
	return n, nil
}

// Flush writes what is held back of a last line that so far matches a
// prefix of "From ".
func (q *FromQuoter) Flush() error {
	if q.held == 0 {
		return nil
	}
	_, err := io.WriteString(q.w, fromPrefix[:q.held])
	q.held = 0
	q.mid = true
	return err
}

// readError marks an error reading the message, as opposed to writing it.
type readError struct{ err error }

func (e readError) Error() string { return e.err.Error() }
func (e readError) Unwrap() error { return e.err }

// copyMessage writes m's Prepend and Content to w, the content through a
// FromQuoter when quote is set, and makes sure the message ends with a
// newline (as Postfix's mail_copy does); it returns the bytes written. An
// error reading the content is a readError.
func copyMessage(w io.Writer, m Message, quote bool) error {
	if _, err := w.Write(m.Prepend); err != nil {
		return err
	}
	lw := &lastByteWriter{w: w, last: '\n'}
	var dst io.Writer = lw
	var fq *FromQuoter
	if quote {
		fq = NewFromQuoter(lw)
		dst = fq
	}
	if m.Content != nil {
		buf := make([]byte, 32*1024)
		for {
			n, rerr := m.Content.Read(buf)
			if n > 0 {
				if _, err := dst.Write(buf[:n]); err != nil {
					return err
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return readError{rerr}
			}
		}
	}
	if fq != nil {
		if err := fq.Flush(); err != nil {
			return err
		}
	}
	if lw.last != '\n' {
		if _, err := lw.Write([]byte{'\n'}); err != nil {
			return err
		}
	}
	return nil
}

type lastByteWriter struct {
	w    io.Writer
	last byte
}

func (l *lastByteWriter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if n > 0 {
		l.last = p[n-1]
	}
	return n, err
}

// limitWriter fails a write that would make the file larger than limit
// with EFBIG, as the kernel does under RLIMIT_FSIZE (Postfix's way of
// enforcing mailbox_size_limit), so that the error and its status are the
// same: "File too large", 5.2.2.
type limitWriter struct {
	w     io.Writer
	size  int64 // the file's current size
	limit int64 // 0: none
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.limit > 0 && l.size+int64(len(p)) > l.limit {
		return 0, errFileTooLarge
	}
	n, err := l.w.Write(p)
	l.size += int64(n)
	return n, err
}

// fdWriter writes to a raw descriptor (no Go poller, no buffering).
type fdWriter int

func (f fdWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := unix.Write(int(f), p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if k == 0 {
			return n, io.ErrShortWrite
		}
		n += k
	}
	return n, nil
}

var errFileTooLarge error = unix.EFBIG

func newBuffered(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 64*1024) }

func isRead(err error) bool {
	var re readError
	return errors.As(err, &re)
}
