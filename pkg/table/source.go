package table

import (
	"bufio"
	"io"
	"strings"
)

// LineReader reads logical lines the way Postfix's readllines() does:
// comment lines (first non-blank character '#') and blank lines are
// dropped wherever they occur, a line that starts with whitespace
// continues the logical line before it (the newline is dropped, the
// leading whitespace kept), and a logical line that would start with
// whitespace is reported and skipped.
type LineReader struct {
	r      *bufio.Reader
	name   string
	warn   func(format string, args ...any)
	lineno int
	peeked *string
	eof    bool
}

// NewLineReader returns a LineReader over r; name is used in warnings.
func NewLineReader(r io.Reader, name string, warn func(format string, args ...any)) *LineReader {
	return &LineReader{r: bufio.NewReaderSize(r, 64<<10), name: name, warn: warn}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// physical returns the next physical line without its newline.
func (lr *LineReader) physical() (string, bool) {
	if lr.peeked != nil {
		s := *lr.peeked
		lr.peeked = nil
		return s, true
	}
	if lr.eof {
		return "", false
	}
	s, err := lr.r.ReadString('\n')
	if err != nil {
		lr.eof = true
		if s == "" {
			return "", false
		}
	}
	return strings.TrimSuffix(s, "\n"), true
}

func skippable(s string) bool {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i == len(s) || s[i] == '#'
}

// Next returns the next logical line and the number of its first
// physical line; ok is false at the end of input.
func (lr *LineReader) Next() (line string, lineno int, ok bool) {
	for {
		var b strings.Builder
		first := 0
		for {
			s, ok := lr.physical()
			if !ok {
				break
			}
			lr.lineno++
			if !skippable(s) {
				if first == 0 {
					first = lr.lineno
				}
				b.WriteString(s)
			}
			if b.Len() == 0 {
				continue
			}
			// Peek: does the next physical line continue this one?
			nx, ok := lr.physical()
			if !ok {
				break
			}
			lr.peeked = &nx
			if nx != "" && nx[0] != '#' && !isSpace(nx[0]) {
				break
			}
		}
		if b.Len() == 0 {
			return "", 0, false
		}
		line = b.String()
		if isSpace(line[0]) {
			short, more := line, ""
			if len(short) > 30 {
				short, more = short[:30], "..."
			}
			lr.warn("%s: logical line must not start with whitespace: \"%s%s\"", lr.name, short, more)
			continue
		}
		return line, first, true
	}
}

// SplitEntry splits a logical line of the postmap source format into key
// and value. The key ends at the first whitespace outside double quotes
// (a backslash protects the next character); the quotes stay part of the
// key, as in Postfix. The value is the rest with surrounding whitespace
// removed. balanced is false for a key with an unbalanced quote.
func SplitEntry(line string) (key, value string, balanced bool) {
	inq := false
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++
			if i >= len(line) {
				break
			}
		} else if isSpace(c) {
			if !inq {
				break
			}
		} else if c == '"' {
			inq = !inq
		}
	}
	if inq {
		return "", "", false
	}
	if i > len(line) {
		i = len(line)
	}
	key = line[:i]
	value = strings.TrimRight(strings.TrimLeft(line[i:], " \t\n\r\v\f"), " \t\n\r\v\f")
	return key, value, true
}

// ParseSource reads a table source in postmap format (see the package
// documentation) and calls fn for every entry with the key as written.
// Bad lines are reported through warn and skipped. ignoring selects the
// texthash wording of the "expected format" warning, which ends in
// "-- ignoring this line". An error from fn stops the parse.
func ParseSource(r io.Reader, name string, ignoring bool, warn func(string, ...any), fn func(key, value string, lineno int) error) error {
	lr := NewLineReader(r, name, warn)
	for {
		line, lineno, ok := lr.Next()
		if !ok {
			return nil
		}
		key, value, balanced := SplitEntry(line)
		if !balanced {
			warn("%s, line %d: unbalanced '\"' in '%s' -- ignoring this line", name, lineno, line)
			continue
		}
		if key == "" || value == "" {
			if ignoring {
				warn("%s, line %d: expected format: key whitespace value -- ignoring this line", name, lineno)
			} else {
				warn("%s, line %d: expected format: key whitespace value", name, lineno)
			}
			continue
		}
		if strings.HasSuffix(key, ":") {
			warn("%s, line %d: record is in \"key: value\" format; is this an alias file?", name, lineno)
		}
		if err := fn(key, value, lineno); err != nil {
			return err
		}
	}
}
