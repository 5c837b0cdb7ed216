package table

import (
	"io"
	"strings"
)

// RFC 822 tokens, as Postfix's tok822_scan() produces them for aliases(5).
type tokType int

const (
	tokOp tokType = iota
	tokAtom
	tokQString
	tokComment
	tokDomLit
)

type token struct {
	typ  tokType
	op   byte
	text string
}

// opchars are the single-character operators: RFC 822 specials plus
// "|%!" (Postfix includes "|" for aliases files).
const opchars = "|%!()<>@,;:\\\".[]"

func isOpchar(c byte) bool { return strings.IndexByte(opchars, c) >= 0 }
func isSpaceTabCRLF(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// collect copies characters from s[i:] while cond holds; a backslash
// takes the next character literally (and is dropped). Whitespace
// becomes a space.
func collect(s string, i int, cond func(byte) bool) (string, int) {
	var b strings.Builder
	for i < len(s) {
		c := s[i]
		if c == '\\' {
			i++
			if i >= len(s) {
				break
			}
			c = s[i]
		} else if !cond(c) {
			break
		}
		if isSpaceTabCRLF(c) {
			c = ' '
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), i
}

func scan822(s string) []token {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		i++
		if isSpaceTabCRLF(c) {
			continue
		}
		var t token
		switch {
		case c == '(':
			var b strings.Builder
			b.WriteByte('(')
			level := 1
			for i < len(s) {
				ch := s[i]
				b.WriteByte(ch)
				i++
				if ch == '(' {
					level++
				} else if ch == ')' {
					level--
					if level == 0 {
						break
					}
				} else if ch == '\\' {
					if i >= len(s) {
						break
					}
					b.WriteByte(s[i])
					i++
				}
			}
			t = token{typ: tokComment, text: b.String()}
		case c == '[':
			t.typ = tokDomLit
			t.text, i = collect(s, i, func(c byte) bool { return c != ']' })
			if i < len(s) {
				i++
			}
		case c == '"':
			t.typ = tokQString
			t.text, i = collect(s, i, func(c byte) bool { return c != '"' })
			if i < len(s) {
				i++
			}
		case c != '\\' && isOpchar(c):
			t = token{typ: tokOp, op: c}
		default:
			t.typ = tokAtom
			t.text, i = collect(s, i-1, func(c byte) bool { return !isSpaceTabCRLF(c) && !isOpchar(c) })
			for j := 0; j < len(t.text); j++ {
				ch := t.text[j]
				if ch == ' ' || ch < 0x20 || ch == 0x7f || isOpchar(ch) {
					t.typ = tokQString
					break
				}
			}
		}
		toks = append(toks, t)
	}
	return toks
}

func nonOp(t token) bool { return t.typ != tokOp }

// appendSpace says whether a space follows toks[i] when a flat token
// list is turned back into text.
func appendSpace(toks []token, i int) bool {
	if i+1 >= len(toks) {
		return false
	}
	t, next := toks[i], toks[i+1]
	if (t.typ == tokOp && t.op == ',') || (next.typ == tokOp && next.op == '<') {
		return true
	}
	return nonOp(t) && nonOp(next)
}

func quoteSet(s, set string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// internalize renders tokens unquoted (the form of an alias name).
func internalize(toks []token) string {
	var b strings.Builder
	for i, t := range toks {
		switch t.typ {
		case tokOp:
			b.WriteByte(t.op)
		case tokDomLit:
			b.WriteString("[" + t.text + "]")
		default:
			b.WriteString(t.text)
		}
		if appendSpace(toks, i) {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// externalize renders tokens quoted (the stored form of an alias value).
func externalize(toks []token) string {
	var b strings.Builder
	for i, t := range toks {
		switch t.typ {
		case tokOp:
			b.WriteByte(t.op)
		case tokQString:
			b.WriteString(`"` + quoteSet(t.text, "\"\\\r\n") + `"`)
		case tokDomLit:
			b.WriteString("[" + quoteSet(t.text, "\\\r\n") + "]")
		default:
			b.WriteString(t.text)
		}
		if appendSpace(toks, i) {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// ParseAliasLine parses one logical line of an aliases(5) file into the
// name (unquoted, not yet case-folded) and the value (re-tokenised as an
// address list, tokens separated as Postfix's tok822_externalize() does).
// problem is "" on success, else the text of Postfix's warning ("need
// name:value pair", "name must be local").
func ParseAliasLine(line string) (name, value, problem string) {
	toks := scan822(line)
	if len(toks) == 0 {
		return "", "", "need name:value pair"
	}
	colon := -1
	for i, t := range toks {
		if t.typ == tokOp && t.op == ':' {
			colon = i
			break
		}
	}
	if colon <= 0 || colon == len(toks)-1 {
		return "", "", "need name:value pair"
	}
	for _, t := range toks[:colon] {
		if t.typ == tokOp && t.op == ',' {
			return "", "", "need name:value pair"
		}
	}
	for _, t := range toks[:colon] {
		if t.typ == tokOp && (t.op == '@' || t.op == '%') {
			return "", "", "name must be local"
		}
	}
	return internalize(toks[:colon]), externalize(toks[colon+1:]), ""
}

// ParseAliases reads an aliases(5) file (see the package documentation)
// and calls fn for every entry. Bad lines are reported through warn, in
// Postfix's words, and skipped.
func ParseAliases(r io.Reader, name string, warn func(string, ...any), fn func(key, value string, lineno int) error) error {
	lr := NewLineReader(r, name, warn)
	for {
		line, lineno, ok := lr.Next()
		if !ok {
			return nil
		}
		if len(scan822(line)) == 0 {
			continue
		}
		k, v, problem := ParseAliasLine(line)
		if problem != "" {
			warn("%s, line %d: %s", name, lineno, problem)
			continue
		}
		if err := fn(k, v, lineno); err != nil {
			return err
		}
	}
}
