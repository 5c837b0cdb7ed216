package local

import "strings"

// ParseTargets splits one alias value, or one line of a .forward or
// :include: file, into delivery targets in their internal (unquoted) form,
// the way Postfix's tok822_parse() and tok822_internalize() do it for
// local(8):
//
//	pfa, pfb@example.org            two addresses
//	pfa pfb                         two addresses (whitespace separates words)
//	"|/usr/bin/cmd arg"             the command "|/usr/bin/cmd arg"
//	/var/mail/list.mbox             a file
//	:include:/etc/mail/list         an include file
//	Full Name <user@example.org>    user@example.org
//	\pfa                            "\pfa": pfa's own mailbox
//
// Comments in parentheses are dropped. A quoted string keeps its content
// without the quotes. ParseTargets never fails: what is not an address is
// returned as it stands and fails later, at delivery.
func ParseTargets(s string) []string {
	toks := scanTokens(s)
	var out []string
	var group []tok
	flush := func() {
		if t := internalize(group); t != "" {
			out = append(out, t)
		}
		group = group[:0]
	}
	angle := 0
	for i, t := range toks {
		switch {
		case t.op == '<':
			angle++
		case t.op == '>' && angle > 0:
			angle--
		case t.op == ',' && angle == 0:
			flush()
			continue
		case t.word() && angle == 0 && len(group) > 0 && group[len(group)-1].word() && !hasAngleAhead(toks[i:]):
			// Two adjacent words outside <>: sendmail-style whitespace
			// separated list.
			flush()
		}
		group = append(group, t)
	}
	flush()
	return out
}

type tok struct {
	op   byte   // operator character, or 0 for a word
	text string // word text (quoted strings without quotes)
	kind byte   // 'a' atom, 'q' quoted string, 'd' domain literal
}

func (t tok) word() bool { return t.op == 0 }

// hasAngleAhead reports whether a '<' follows before the next comma: then
// the words are a phrase ("Full Name <addr>"), not a list.
func hasAngleAhead(toks []tok) bool {
	for _, t := range toks {
		if t.op == ',' {
			return false
		}
		if t.op == '<' {
			return true
		}
	}
	return false
}

const specials = "()<>@,;:\\\".[]"

func scanTokens(s string) []tok {
	var toks []tok
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '(':
			level := 0
			for i < len(s) {
				ch := s[i]
				i++
				if ch == '\\' {
					i++
				} else if ch == '(' {
					level++
				} else if ch == ')' {
					level--
					if level == 0 {
						break
					}
				}
			}
		case c == '"':
			var b strings.Builder
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
				i++
			}
			if i < len(s) {
				i++
			}
			toks = append(toks, tok{text: b.String(), kind: 'q'})
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				j = len(s) - i - 1
			}
			toks = append(toks, tok{text: s[i : i+j+1], kind: 'd'})
			i += j + 1
		case c == '\\' && i+1 < len(s):
			// A backslash starts an atom and stays part of it ("\user").
			j := i + 2
			for j < len(s) && !atomEnd(s[j]) {
				j++
			}
			toks = append(toks, tok{text: s[i:j], kind: 'a'})
			i = j
		case strings.IndexByte(specials, c) >= 0:
			toks = append(toks, tok{op: c})
			i++
		default:
			j := i
			for j < len(s) && !atomEnd(s[j]) {
				j++
			}
			toks = append(toks, tok{text: s[i:j], kind: 'a'})
			i = j
		}
	}
	return toks
}

func atomEnd(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || strings.IndexByte(specials, c) >= 0
}

// internalize writes an address group back in internal form: the route
// address inside <> when there is one, else every token; quoted strings
// lose their quotes.
func internalize(group []tok) string {
	lo, hi := 0, len(group)
	for i, t := range group {
		if t.op == '<' {
			lo = i + 1
			hi = len(group)
			for j := i + 1; j < len(group); j++ {
				if group[j].op == '>' {
					hi = j
					break
				}
			}
			break
		}
	}
	var b strings.Builder
	for _, t := range group[lo:hi] {
		if t.op != 0 {
			if t.op == '<' || t.op == '>' {
				continue
			}
			b.WriteByte(t.op)
			continue
		}
		b.WriteString(t.text)
	}
	return b.String()
}
