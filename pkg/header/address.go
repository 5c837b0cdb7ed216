package header

import (
	"postern/pkg/address"
	"strings"
)

// TokenLimit is Postfix's header_address_token_limit: a header with more
// tokens than this is not parsed (cleanup copies it unchanged).
const TokenLimit = 10240

const specials = "()<>@,;:\\\".[]"

type tokKind byte

const (
	tAtom    tokKind = 'a'
	tQuoted  tokKind = 'q' // text includes the quotes
	tComment tokKind = 'c' // text includes the parentheses
	tLiteral tokKind = 'l' // [domain literal], brackets included
	tAddr    tokKind = 'A' // a rewritten address, external form
)

type token struct {
	kind  tokKind // one of the above, or the special character itself
	text  string
	space bool // blank (or folding) before it in the input
}

func (t token) word() bool {
	switch t.kind {
	case tAtom, tQuoted, tComment, tLiteral, tAddr:
		return true
	}
	return false
}

// tokenize splits an RFC 5322 header value into tokens; ok is false when
// it has more than TokenLimit tokens.
func tokenize(v string) (toks []token, ok bool) {
	space := false
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			space = true
			i++
			continue
		case c == '"':
			j := i + 1
			for j < len(v) && v[j] != '"' {
				if v[j] == '\\' && j+1 < len(v) {
					j++
				}
				j++
			}
			if j < len(v) {
				j++
			}
			toks = append(toks, token{tQuoted, v[i:j], space})
			i = j
		case c == '(':
			depth, j := 0, i
			for ; j < len(v); j++ {
				if v[j] == '\\' && j+1 < len(v) {
					j++
					continue
				}
				if v[j] == '(' {
					depth++
				} else if v[j] == ')' {
					depth--
					if depth == 0 {
						j++
						break
					}
				}
			}
			toks = append(toks, token{tComment, v[i:j], space})
			i = j
		case c == '[':
			j := i + 1
			for j < len(v) && v[j] != ']' {
				if v[j] == '\\' && j+1 < len(v) {
					j++
				}
				j++
			}
			if j < len(v) {
				j++
			}
			toks = append(toks, token{tLiteral, v[i:j], space})
			i = j
		case strings.IndexByte(specials, c) >= 0:
			toks = append(toks, token{tokKind(c), v[i : i+1], space})
			i++
		default:
			j := i
			for j < len(v) && v[j] > ' ' && v[j] != 0x7f && strings.IndexByte(specials, v[j]) < 0 {
				j++
			}
			if j == i { // a control character: an atom of its own
				j++
			}
			toks = append(toks, token{tAtom, v[i:j], space})
			i = j
		}
		space = false
		if len(toks) > TokenLimit {
			return nil, false
		}
	}
	return toks, true
}

// AddressList is a parsed address header value.
type AddressList struct {
	items [][]token // top-level comma-separated items
	addrs []span    // where the addresses are
}

type span struct{ item, start, end int } // tokens [start,end) of items[item]

// ParseAddressList parses the value of an address header (From:, To: ...):
// "a@example.org, Name <b@example.org>, group: c@x, d@y;". ok is false
// when the value has more than TokenLimit tokens.
func ParseAddressList(value string) (l *AddressList, ok bool) {
	toks, ok := tokenize(value)
	if !ok {
		return nil, false
	}
	l = &AddressList{}
	depth, start := 0, 0
	for i := 0; i <= len(toks); i++ {
		if i < len(toks) {
			switch toks[i].kind {
			case '<':
				depth++
				continue
			case '>':
				if depth > 0 {
					depth--
				}
				continue
			case ',':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		}
		if i > start {
			l.addItem(toks[start:i])
		}
		start = i + 1
	}
	return l, true
}

// addItem records one item and finds its address.
func (l *AddressList) addItem(item []token) {
	n := len(l.items)
	l.items = append(l.items, item)
	// Name <addr>
	for i, t := range item {
		if t.kind == '<' {
			j := i + 1
			for j < len(item) && item[j].kind != '>' {
				j++
			}
			l.addrs = append(l.addrs, span{n, i + 1, j})
			return
		}
	}
	// group: addr  (and a trailing ';')
	from := 0
	for i, t := range item {
		if t.kind == ':' {
			from = i + 1
			break
		}
	}
	to := len(item)
	for to > from && (item[to-1].kind == ';' || item[to-1].kind == tComment) {
		to--
	}
	for from < to && item[from].kind == tComment {
		from++
	}
	if from < to {
		l.addrs = append(l.addrs, span{n, from, to})
	}
}

// Addresses returns the addresses in internal form (local part unquoted),
// in order. "<>" gives "".
func (l *AddressList) Addresses() []string {
	out := make([]string, len(l.addrs))
	for i, s := range l.addrs {
		var b strings.Builder
		for _, t := range l.items[s.item][s.start:s.end] {
			switch t.kind {
			case tComment:
			case tQuoted:
				b.WriteString(unquote(t.text))
			default:
				b.WriteString(t.text)
			}
		}
		out[i] = b.String()
	}
	return out
}

// SetAddresses replaces the addresses (internal form, as many as
// Addresses returned); an unchanged one keeps its tokens.
func (l *AddressList) SetAddresses(addrs []string) {
	old := l.Addresses()
	// Replace from the last so that earlier spans stay valid.
	for i := len(l.addrs) - 1; i >= 0; i-- {
		if i >= len(addrs) || addrs[i] == old[i] {
			continue
		}
		s := l.addrs[i]
		item := l.items[s.item]
		sp := item[s.start].space
		repl := token{tAddr, QuoteAddress(addrs[i]), sp}
		ni := make([]token, 0, len(item)-(s.end-s.start)+1)
		ni = append(ni, item[:s.start]...)
		ni = append(ni, repl)
		ni = append(ni, item[s.end:]...)
		l.items[s.item] = ni
		l.addrs[i].end = s.start + 1
		// later spans in the same item shift; there are none (one address per item)
	}
}

// Format regenerates the header as Postfix's cleanup does after rewriting:
// "Name: " and the items separated by ", ", folded with LF TAB after a
// comma when the logical line would reach 70 characters; the result ends
// with LF.
func (l *AddressList) Format(name string) []byte {
	out := make([]byte, 0, 64)
	out = append(out, name...)
	out = append(out, ": "...)
	lineStart := 0
	for i, item := range l.items {
		text := externalize(item)
		comma := 0
		if i < len(l.items)-1 {
			comma = 1
		}
		if i > 0 {
			// Postfix's cleanup_fold_header: join while the line stays
			// under 70 characters, counted from the start of the line
			// (the TAB not included) through this item's comma.
			if len(out)-lineStart+1+len(text)+comma < 70 {
				out = append(out, ' ')
			} else {
				out = append(out, "\n\t"...)
				lineStart = len(out)
			}
		}
		out = append(out, text...)
		if comma > 0 {
			out = append(out, ',')
		}
	}
	return append(out, '\n')
}

// externalize joins an item's tokens with Postfix's spacing: a blank
// between words, none around '@', '.' and inside <>, and the input's own
// blanks kept outside addresses (so "John Q. Public" stays as it was).
func externalize(item []token) string {
	var b strings.Builder
	inAngle := false
	for i, t := range item {
		if i > 0 {
			prev := item[i-1]
			sp := false
			switch {
			case prev.kind == '<' || t.kind == '>' || t.kind == ';' || t.kind == ',':
			case prev.kind == ':' && !inAngle:
				sp = true
			case prev.word() && t.word():
				sp = !inAngle || t.kind == tComment || prev.kind == tComment
			case t.kind == '<':
				sp = true
			case !inAngle && t.space && t.kind != '@' && prev.kind != '@':
				sp = true
			}
			if sp {
				b.WriteByte(' ')
			}
		}
		switch t.kind {
		case '<':
			inAngle = true
		case '>':
			inAngle = false
		}
		b.WriteString(t.text)
	}
	return b.String()
}

// unquote removes the quotes and backslash escapes of a quoted string.
func unquote(q string) string {
	if len(q) >= 2 && q[0] == '"' && q[len(q)-1] == '"' {
		q = q[1 : len(q)-1]
	} else if len(q) >= 1 && q[0] == '"' {
		q = q[1:]
	}
	if strings.IndexByte(q, '\\') < 0 {
		return q
	}
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] == '\\' && i+1 < len(q) {
			i++
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// QuoteAddress turns an address in internal form into external form: the
// local part (before the last '@') is quoted when it holds characters
// that RFC 5322 allows only in a quoted string, as Postfix's
// quote_822_local() does ("a b@x" -> "\"a b\"@x").
func QuoteAddress(addr string) string { return address.Quote(addr) }
