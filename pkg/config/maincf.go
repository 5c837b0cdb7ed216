package config

import (
	"bytes"
	"fmt"
	"os"
	"postern/pkg/strerror"
	"strings"
)

// Entry is one "name = value" entry of main.cf. Value is the raw text:
// continuation lines are joined with their leading whitespace kept, and
// nothing is expanded or collapsed (daemons use the raw text; postconf
// collapses blanks only when it prints).
type Entry struct {
	Name    string
	Value   string
	Line    int // first physical line of the logical line
	EndLine int // last physical line of the logical line
}

// File is a parsed main.cf: every entry in file order, duplicates included
// (the last one wins), and the warnings that reading it produced.
type File struct {
	Path     string
	Entries  []Entry
	Warnings []string
}

// SyntaxError is a fatal main.cf error. Its text is Postfix's:
// `PATH, line N: missing '=' after attribute name: "text"`.
type SyntaxError struct {
	Path string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s, line %d: %s", e.Path, e.Line, e.Msg)
}

// ParseMainCF reads and parses the main.cf file at path. A missing file
// gives an error worded as Postfix's: "open PATH: No such file or directory".
func ParseMainCF(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, openError(path, err)
	}
	return ParseMainCFBytes(path, data)
}

// openError words a file error the way Postfix prints it.
func openError(path string, err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("open %s: %s", path, strerror.Text(pe.Err))
	}
	return err
}

// LogicalLine is one logical line of a Postfix configuration file (main.cf,
// master.cf and the table source formats share these rules).
type LogicalLine struct {
	Text      string
	FirstLine int
	LastLine  int
}

// LogicalLines splits data into Postfix logical lines (util/readlline.c):
//   - a line whose first non-blank character is '#' is a comment, and an
//     all-blank line is empty: both are skipped and do not end the
//     current logical line;
//   - a line that starts with whitespace continues the previous logical
//     line; the newline is dropped and the line is appended with its
//     leading whitespace kept;
//   - a continuation line with no logical line before it is reported
//     through warn (Postfix: "logical line must not start with whitespace")
//     and dropped.
//
// There are no end-of-line comments: "value # x" is all value.
func LogicalLines(data []byte, warn func(line int, text string)) []LogicalLine {
	var out []LogicalLine
	var cur *LogicalLine
	lineNo := 0
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		lineNo++
		line = bytes.TrimSuffix(line, []byte{'\r'})
		trimmed := bytes.TrimLeft(line, " \t\r\f\v")
		if len(trimmed) == 0 || trimmed[0] == '#' {
			continue
		}
		if len(trimmed) < len(line) { // starts with whitespace: continuation
			if cur == nil {
				if warn != nil {
					warn(lineNo, string(line))
				}
				continue
			}
			cur.Text += string(line)
			cur.LastLine = lineNo
			continue
		}
		out = append(out, LogicalLine{Text: string(line), FirstLine: lineNo, LastLine: lineNo})
		cur = &out[len(out)-1]
	}
	return out
}

// ParseMainCFBytes parses main.cf text; path is used in messages only.
func ParseMainCFBytes(path string, data []byte) (*File, error) {
	f := &File{Path: path}
	warn := func(_ int, text string) {
		f.Warnings = append(f.Warnings, fmt.Sprintf("%s: logical line must not start with whitespace: \"%s\"", path, truncate(text, 30)))
	}
	seen := map[string]int{}
	for _, ll := range LogicalLines(data, warn) {
		name, value, err := SplitNameValue(ll.Text)
		if err != nil {
			return nil, &SyntaxError{Path: path, Line: ll.FirstLine, Msg: err.Error()}
		}
		if prev, dup := seen[name]; dup {
			// Postfix names the line of the new entry and the value it replaces.
			f.Warnings = append(f.Warnings, fmt.Sprintf("%s, line %d: overriding earlier entry: %s=%s", path, ll.FirstLine, name, f.Entries[prev].Value))
		}
		seen[name] = len(f.Entries)
		f.Entries = append(f.Entries, Entry{Name: name, Value: value, Line: ll.FirstLine, EndLine: ll.LastLine})
	}
	return f, nil
}

// truncate shortens s to n bytes and marks the cut with "...", as
// Postfix's messages about long lines do.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// SplitNameValue splits "name = value" as Postfix's split_nameval does:
// the name ends at whitespace or '=', blanks around '=' are optional, and
// the value loses leading and trailing whitespace. Error texts are
// Postfix's.
func SplitNameValue(s string) (name, value string, err error) {
	p := strings.TrimLeft(s, " \t\r\n\f\v")
	i := strings.IndexAny(p, " \t\r\n\f\v=")
	if i < 0 {
		i = len(p)
	}
	name = p[:i]
	rest := strings.TrimLeft(p[i:], " \t\r\n\f\v")
	if name == "" {
		return "", "", fmt.Errorf("missing attribute name: \"%s\"", s)
	}
	if !strings.HasPrefix(rest, "=") {
		return "", "", fmt.Errorf("missing '=' after attribute name: \"%s\"", s)
	}
	value = strings.Trim(rest[1:], " \t\r\n\f\v")
	return name, value, nil
}
