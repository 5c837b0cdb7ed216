// Package dotreader reads the DATA phase of an SMTP session strictly
// (RFC 5321 section 4.1.1.4 and 4.5.2), as smtpd(8) needs it to be safe
// against SMTP smuggling.
//
// The rules, all in one state machine (Reader.Read):
//
//   - Only <CR><LF>.<CR><LF> ends the data, and only when the line before
//     the dot also ended with <CR><LF> (or the dot is the first line). A
//     bare <LF> or bare <CR> never ends it: "\r\n.\n", "\n.\r\n" and
//     "\r.\r\n" are not an end (CVE-2023-51764 and relatives).
//   - <CR><LF> line ends become <LF>: the output is what postern's cleanup
//     wants, lines ending in "\n".
//   - A bare <LF> ends a line as <CR><LF> would (it is passed on as "\n");
//     Reader.BareLF reports that one was seen, so that the caller can
//     apply smtpd_forbid_bare_newline = reject.
//   - A line consisting of "." that ended in a bare <LF>, or that follows
//     a line ending in a bare <LF>, is dropped: it is neither the end of
//     the data nor content. This is Postfix's "normalize" behaviour
//     (smtpd_forbid_bare_newline = normalize, Postfix 3.9's default).
//   - A bare <CR> is an ordinary character and stays in the content.
//   - Dot-unstuffing: one leading "." is removed from every line.
//   - NUL bytes and 8-bit bytes pass through unchanged; line length is not
//     limited here (the reader never buffers a line: memory is bounded by
//     the caller's buffer).
//
// The reader consumes exactly the bytes up to and including the final
// ".\r\n", so that the next SMTP command (pipelined behind the data) is
// left unread in the underlying bufio.Reader.
package dotreader

import (
	"bufio"
	"errors"
	"io"
)

// ErrUnexpectedEOF is returned when the connection ends before the final
// <CR><LF>.<CR><LF>.
var ErrUnexpectedEOF = errors.New("unexpected EOF in DATA")

type state int

const (
	stLineStart state = iota // at the start of a line
	stDot                    // "." at the start of a line
	stDotCR                  // ".\r" at the start of a line
	stBody                   // inside a line
	stCR                     // "\r" inside a line
	stDone                   // final dot seen
)

// Reader reads one message's DATA. It is not safe for concurrent use.
type Reader struct {
	r        *bufio.Reader
	st       state
	prevBare bool // the previous line ended in a bare LF
	bareLF   bool // a bare LF was seen anywhere
	pend     [2]byte
	npend    int
	err      error
}

// New returns a Reader that reads DATA from r.
func New(r *bufio.Reader) *Reader { return &Reader{r: r} }

// BareLF reports whether the data contained a bare <LF> (a line feed not
// preceded by a carriage return).
func (d *Reader) BareLF() bool { return d.bareLF }

// Read implements io.Reader. It returns io.EOF after the final dot, and
// ErrUnexpectedEOF (or the underlying read error) when the input ends
// before it.
func (d *Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if d.npend > 0 {
			p[n] = d.pend[0]
			n++
			d.pend[0] = d.pend[1]
			d.npend--
			continue
		}
		if d.st == stDone {
			return n, io.EOF
		}
		if d.err != nil {
			return n, d.err
		}
		// Do not block for more input when something is ready to hand
		// back: the caller streams as data arrives.
		if n > 0 && d.r.Buffered() == 0 {
			return n, nil
		}
		c, err := d.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = ErrUnexpectedEOF
			}
			d.err = err
			continue
		}
		d.step(c)
	}
	return n, nil
}

func (d *Reader) emit(c byte) {
	d.pend[d.npend] = c
	d.npend++
}

func (d *Reader) bare() {
	d.bareLF = true
	d.prevBare = true
	d.st = stLineStart
}

// step advances the state machine by one input byte. At most two bytes
// are emitted per step.
func (d *Reader) step(c byte) {
	switch d.st {
	case stLineStart:
		switch c {
		case '.':
			d.st = stDot
		case '\r':
			d.st = stCR
		case '\n':
			d.emit('\n')
			d.bare()
		default:
			d.emit(c)
			d.st = stBody
		}
	case stDot:
		switch c {
		case '\r':
			d.st = stDotCR
		case '\n':
			// ".\n": neither the end nor content.
			d.bare()
		default:
			// Dot-stuffing: the first dot goes.
			d.emit(c)
			d.st = stBody
		}
	case stDotCR:
		switch c {
		case '\n':
			if !d.prevBare {
				d.st = stDone
				return
			}
			// ".\r\n" after a bare-LF line: dropped.
			d.prevBare = false
			d.st = stLineStart
		case '\r':
			d.emit('\r')
			d.st = stCR
		default:
			d.emit('\r')
			d.emit(c)
			d.st = stBody
		}
	case stBody:
		switch c {
		case '\r':
			d.st = stCR
		case '\n':
			d.emit('\n')
			d.bare()
		default:
			d.emit(c)
		}
	case stCR:
		switch c {
		case '\n':
			d.emit('\n')
			d.prevBare = false
			d.st = stLineStart
		case '\r':
			d.emit('\r')
		default:
			d.emit('\r')
			d.emit(c)
			d.st = stBody
		}
	}
}

// LFWriter converts <CR><LF> to <LF> in a byte stream written in pieces
// (BDAT chunks), holding back a final <CR> until the next piece shows
// whether an <LF> follows. Bare <LF>s are passed on and counted in BareLF.
type LFWriter struct {
	W      io.Writer
	cr     bool
	BareLF bool
	buf    []byte
}

// Write converts p and writes it to W.
func (l *LFWriter) Write(p []byte) (int, error) {
	out := l.buf[:0]
	for _, c := range p {
		if l.cr {
			l.cr = false
			if c == '\n' {
				out = append(out, '\n')
				continue
			}
			out = append(out, '\r')
		}
		switch c {
		case '\r':
			l.cr = true
		case '\n':
			l.BareLF = true
			out = append(out, '\n')
		default:
			out = append(out, c)
		}
	}
	l.buf = out
	if len(out) > 0 {
		if _, err := l.W.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes a held-back final <CR>.
func (l *LFWriter) Flush() error {
	if l.cr {
		l.cr = false
		_, err := l.W.Write([]byte{'\r'})
		return err
	}
	return nil
}
