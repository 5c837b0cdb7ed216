package sendmail

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// ErrTooBig is returned by Filter.Run when the content exceeds the limit.
var ErrTooBig = errors.New("message file too big")

// Filter turns sendmail's standard input into queue file content: line
// endings fixed (sendmail_fix_line_endings), leading mbox "From " lines
// dropped, input ended by a lone "." line unless IgnoreDot, a last line
// without newline completed; with Extract, recipients are taken from the
// To:, Cc: and Bcc: headers (only the Resent- ones when any of those
// exists) and Bcc:/Resent-Bcc: are removed.
type Filter struct {
	IgnoreDot    bool
	Extract      bool
	LineEndings  string // "always" (default), "strict" or "never"
	Limit        int64  // content bytes at most; 0 is no limit
	Size         int64  // content bytes written
	Recipients   []string
	resent       []string
	sawResent    bool
	stripCR      bool
	decided      bool
	inHeaders    bool
	atStart      bool
	header       []byte // the header being collected, with continuations
	out          io.Writer
	stoppedAtDot bool
}

// Run copies in to out. With Extract, f.Recipients holds the extracted
// recipients afterwards.
func (f *Filter) Run(in io.Reader, out io.Writer) error {
	f.out = out
	f.inHeaders, f.atStart = true, true
	switch f.LineEndings {
	case "never":
		f.decided = true
	case "strict":
	default:
		f.stripCR, f.decided = true, true
	}
	r := bufio.NewReaderSize(in, 64<<10)
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			line = append(line, chunk...)
			if f.Limit > 0 && int64(len(line)) > f.Limit {
				return ErrTooBig
			}
			continue
		}
		if line != nil {
			line = append(line, chunk...)
			chunk, line = line, nil
		}
		if len(chunk) > 0 {
			stop, werr := f.line(chunk)
			if werr != nil {
				return werr
			}
			if stop {
				break
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if err := f.flushHeader(); err != nil {
		return err
	}
	if f.Extract && f.sawResent {
		f.Recipients = f.resent
	}
	f.resent = nil
	return nil
}

// line handles one input line (with its LF, unless it is the last line).
func (f *Filter) line(l []byte) (stop bool, err error) {
	if l[len(l)-1] != '\n' {
		l = append(l, '\n')
	}
	crlf := len(l) >= 2 && l[len(l)-2] == '\r'
	if !f.decided {
		f.stripCR, f.decided = crlf, true
	}
	if crlf && f.stripCR {
		k := len(l) - 1
		for k > 0 && l[k-1] == '\r' {
			k--
		}
		l = append(l[:k], '\n')
	}
	if !f.IgnoreDot && len(l) == 2 && l[0] == '.' {
		f.stoppedAtDot = true
		return true, nil
	}
	if f.atStart {
		if bytes.HasPrefix(l, []byte("From ")) || bytes.HasPrefix(l, []byte(">From ")) {
			return false, nil
		}
		f.atStart = false
	}
	if f.inHeaders {
		if (l[0] == ' ' || l[0] == '\t') && f.header != nil {
			f.header = append(f.header, l...)
			return false, f.checkSize(len(f.header))
		}
		if err := f.flushHeader(); err != nil {
			return false, err
		}
		if headerName(l) != "" {
			f.header = append(f.header[:0:0], l...)
			return false, f.checkSize(len(f.header))
		}
		f.inHeaders = false
	}
	return false, f.write(l)
}

func (f *Filter) checkSize(pending int) error {
	if f.Limit > 0 && f.Size+int64(pending) > f.Limit {
		return ErrTooBig
	}
	return nil
}

func (f *Filter) write(b []byte) error {
	if err := f.checkSize(len(b)); err != nil {
		return err
	}
	f.Size += int64(len(b))
	_, err := f.out.Write(b)
	return err
}

// flushHeader writes (or, for Bcc with Extract, drops) the collected
// header and takes its recipients.
func (f *Filter) flushHeader() error {
	h := f.header
	f.header = nil
	if h == nil {
		return nil
	}
	if f.Extract {
		name := strings.ToLower(headerName(h))
		value := string(h[bytes.IndexByte(h, ':')+1:])
		switch name {
		case "to", "cc", "bcc":
			f.Recipients = append(f.Recipients, ParseAddressList(value)...)
		case "resent-to", "resent-cc", "resent-bcc":
			f.sawResent = true
			f.resent = append(f.resent, ParseAddressList(value)...)
		}
		if name == "bcc" || name == "resent-bcc" {
			return nil
		}
	}
	return f.write(h)
}

// headerName returns the name of a header line "Name: value", or "".
func headerName(l []byte) string {
	for i, c := range l {
		switch {
		case c == ':':
			if i == 0 {
				return ""
			}
			return strings.TrimRight(string(l[:i]), " \t")
		case c == ' ' || c == '\t':
			// Blanks are allowed only between the name and the colon.
			rest := bytes.TrimLeft(l[i:], " \t")
			if i == 0 || len(rest) == 0 || rest[0] != ':' {
				return ""
			}
			return string(l[:i])
		case c < 0x21 || c > 0x7e:
			return ""
		}
	}
	return ""
}

// ParseAddressList returns the addresses of an RFC 5322 address list in
// the internal form (quotes removed), leniently, as Postfix's tokenizer
// does: a list element's <route-addr> wins over its phrase, comments are
// dropped, group names and ";" are skipped, empty elements are dropped.
func ParseAddressList(s string) []string {
	var out []string
	var cur, angle strings.Builder
	hasAngle, inAngle := false, false
	depth := 0
	inQuote := false
	end := func() {
		var a string
		if hasAngle {
			a = strings.TrimSpace(angle.String())
			if a != "" && a[0] == '@' { // source route @a,@b:user@c
				if k := strings.IndexByte(a, ':'); k >= 0 {
					a = a[k+1:]
				}
			}
		} else {
			words := strings.Fields(cur.String())
			if len(words) > 0 {
				a = words[len(words)-1]
				for _, w := range words {
					if strings.Contains(w, "@") {
						a = w
					}
				}
			}
		}
		if a != "" {
			out = append(out, a)
		}
		cur.Reset()
		angle.Reset()
		hasAngle, inAngle = false, false
	}
	dst := func() *strings.Builder {
		if inAngle {
			return &angle
		}
		return &cur
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote:
			switch c {
			case '\\':
				if i+1 < len(s) {
					i++
					dst().WriteByte(s[i])
				}
			case '"':
				inQuote = false
			case '\r', '\n':
			default:
				dst().WriteByte(c)
			}
		case depth > 0:
			switch c {
			case '\\':
				i++
			case '(':
				depth++
			case ')':
				depth--
			}
		case c == '\\':
			if i+1 < len(s) {
				i++
				dst().WriteByte(s[i])
			}
		case c == '"':
			inQuote = true
		case c == '(':
			depth = 1
			dst().WriteByte(' ')
		case c == '<' && !inAngle:
			inAngle, hasAngle = true, true
			angle.Reset()
		case c == '>' && inAngle:
			inAngle = false
		case inAngle:
			if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				angle.WriteByte(c)
			}
		case c == ',' || c == ';':
			end()
		case c == ':':
			// A group name ends here: drop it.
			cur.Reset()
		case c == '\r' || c == '\n':
			cur.WriteByte(' ')
		default:
			cur.WriteByte(c)
		}
	}
	end()
	return out
}
