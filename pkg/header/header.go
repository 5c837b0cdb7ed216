package header

import (
	"bytes"
	"strings"
	"time"
)

// Kind is what cleanup does with a known header.
type Kind int

const (
	Other     Kind = iota // copied as is
	Sender                // sender addresses: rewritten in the local context
	Recipient             // recipient addresses: rewritten in the local context
)

// Info describes a known header.
type Info struct {
	Name   string // canonical spelling ("Message-Id")
	Kind   Kind
	Resent bool // a Resent- header: the message is being resent
}

var known = map[string]Info{}

func init() {
	for _, i := range []Info{
		{"Apparently-To", Recipient, false},
		{"Bcc", Recipient, false},
		{"Cc", Recipient, false},
		{"Content-Length", Other, false},
		{"Content-Transfer-Encoding", Other, false},
		{"Content-Type", Other, false},
		{"Date", Other, false},
		{"Delivered-To", Other, false},
		{"Disposition-Notification-To", Sender, false},
		{"Errors-To", Sender, false},
		{"From", Sender, false},
		{"Mail-Followup-To", Sender, false},
		{"Message-Id", Other, false},
		{"MIME-Version", Other, false},
		{"Received", Other, false},
		{"Reply-To", Sender, false},
		{"Resent-Bcc", Recipient, true},
		{"Resent-Cc", Recipient, true},
		{"Resent-Date", Other, true},
		{"Resent-From", Sender, true},
		{"Resent-Message-Id", Other, true},
		{"Resent-Reply-To", Recipient, true},
		{"Resent-Sender", Sender, true},
		{"Resent-To", Recipient, true},
		{"Return-Path", Sender, false},
		{"Return-Receipt-To", Sender, false},
		{"Sender", Sender, false},
		{"To", Recipient, false},
	} {
		known[strings.ToLower(i.Name)] = i
	}
}

// Lookup returns what is known about the header named name (any case).
func Lookup(name string) (Info, bool) {
	i, ok := known[strings.ToLower(name)]
	return i, ok
}

// NameLen returns the length of the header name at the start of line and
// the offset just after its ':' (Postfix's is_header: a name of printable
// ASCII characters other than ':', optional blanks, then ':'), or 0, 0 when
// line is not a header line.
func NameLen(line []byte) (name, colon int) {
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		if c == ':' {
			if i == 0 {
				return 0, 0
			}
			return i, i + 1
		}
		if c == ' ' || c == '\t' {
			break
		}
		if c <= ' ' || c >= 0x7f {
			return 0, 0
		}
	}
	if i == 0 {
		return 0, 0
	}
	n := i
	for ; i < len(line); i++ {
		switch line[i] {
		case ' ', '\t':
		case ':':
			return n, i + 1
		default:
			return 0, 0
		}
	}
	return 0, 0
}

// Field is one logical header as received: Raw holds its lines with their
// LF ends, continuation lines included.
type Field struct {
	Raw       []byte
	Name      string // as written
	Value     []byte // after the ':' up to the end, LF of the last line excluded
	Truncated bool   // longer than the limit: the excess was discarded
}

// Splitter separates a message, fed in chunks of any size, into header
// fields, the end of the header block and body bytes. It holds at most one
// header (bounded by Limit) and one partial line of body in memory.
type Splitter struct {
	// Limit is header_size_limit: the most bytes kept of one header.
	Limit int
	// Header is called for each complete header field of the header block.
	Header func(f *Field) error
	// EndHeaders is called once, when the header block ends. blank is true
	// when it ended with the empty separator line (which is not passed on);
	// false when the body begins without one (or the message ended).
	EndHeaders func(blank bool) error
	// Body receives the body bytes, unchanged; the final chunk ends in LF
	// (Close adds one to a last line without it).
	Body func(p []byte) error

	inBody   bool
	cur      []byte // current header being gathered
	curTrunc bool
	line     []byte // partial line in the header block
	discard  bool   // dropping the rest of an overlong header line
	lastLF   bool   // body: last byte passed was LF
	started  bool   // body bytes were passed on
}

// Write feeds message bytes.
func (s *Splitter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if s.inBody {
			s.started = true
			s.lastLF = p[len(p)-1] == '\n'
			return n, s.Body(p)
		}
		i := bytes.IndexByte(p, '\n')
		if s.discard {
			// The rest of an overlong header line: dropped.
			if i < 0 {
				return n, nil
			}
			s.discard = false
			p = p[i+1:]
			continue
		}
		if i < 0 {
			s.line = append(s.line, p...)
			if len(s.line) > s.Limit {
				if err := s.overlong(); err != nil {
					return n, err
				}
			}
			return n, nil
		}
		s.line = append(s.line, p[:i+1]...)
		p = p[i+1:]
		line := s.line
		s.line = s.line[:0]
		if err := s.headerLine(line); err != nil {
			return n, err
		}
	}
	return n, nil
}

// overlong decides about a partial line longer than the limit: the
// continuation of a header, or a header line, is truncated (the rest of
// the line is discarded); anything else begins the body.
func (s *Splitter) overlong() error {
	line := s.line
	s.line = s.line[:0]
	_, colon := NameLen(line)
	if colon > 0 || ((line[0] == ' ' || line[0] == '\t') && len(s.cur) > 0) {
		if colon > 0 {
			if err := s.flushCur(); err != nil {
				return err
			}
		}
		s.appendCur(line)
		s.curTrunc = true
		if s.cur[len(s.cur)-1] != '\n' {
			s.cur = append(s.cur, '\n')
		}
		s.discard = true
		return nil
	}
	if err := s.endHeaders(false); err != nil {
		return err
	}
	s.started = true
	s.lastLF = false
	return s.Body(line)
}

func (s *Splitter) endHeaders(blank bool) error {
	if err := s.flushCur(); err != nil {
		return err
	}
	s.inBody = true
	return s.EndHeaders(blank)
}

// headerLine handles one complete line (with LF) of the header block.
func (s *Splitter) headerLine(line []byte) error {
	if line[0] == ' ' || line[0] == '\t' {
		if len(s.cur) > 0 {
			s.appendCur(line)
			return nil
		}
	} else if _, colon := NameLen(line); colon > 0 {
		if err := s.flushCur(); err != nil {
			return err
		}
		s.appendCur(line)
		return nil
	}
	blank := len(line) == 1
	if err := s.endHeaders(blank); err != nil {
		return err
	}
	if blank {
		return nil
	}
	// The line begins the body: pass it on.
	s.started = true
	s.lastLF = true
	return s.Body(append([]byte(nil), line...))
}

func (s *Splitter) appendCur(line []byte) {
	room := s.Limit - len(s.cur)
	if room <= 0 {
		s.curTrunc = true
		return
	}
	if len(line) > room {
		s.curTrunc = true
		s.cur = append(s.cur, line[:room]...)
		if s.cur[len(s.cur)-1] != '\n' {
			s.cur = append(s.cur, '\n')
		}
		return
	}
	s.cur = append(s.cur, line...)
}

func (s *Splitter) flushCur() error {
	if len(s.cur) == 0 {
		return nil
	}
	raw := s.cur
	s.cur = nil
	nameLen, colon := NameLen(raw)
	f := &Field{
		Raw:       raw,
		Name:      string(raw[:nameLen]),
		Value:     raw[colon : len(raw)-1],
		Truncated: s.curTrunc,
	}
	s.curTrunc = false
	return s.Header(f)
}

// Close ends the message: a pending header or partial line is processed
// (a last line without LF gets one), and EndHeaders is called if the
// header block had not ended.
func (s *Splitter) Close() error {
	if !s.inBody {
		if len(s.line) > 0 {
			line := append(s.line, '\n')
			s.line = nil
			if err := s.headerLine(line); err != nil {
				return err
			}
		}
	}
	if !s.inBody {
		return s.endHeaders(false)
	}
	if s.started && !s.lastLF {
		s.lastLF = true
		return s.Body([]byte{'\n'})
	}
	return nil
}

// Date formats t as Postfix's mail_date() does for Date: and Received:
// headers: "Sat, 21 Nov 2026 23:20:55 +0000 (UTC)", the day of the month
// padded with a blank ("Mon,  9 Dec 1996 ...").
func Date(t time.Time) string {
	return t.Format("Mon, _2 Jan 2006 15:04:05 -0700 (MST)")
}
