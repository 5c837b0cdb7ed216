package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Parameter expansion, as Postfix's mac_expand(3) does it for main.cf
// values (see reference/config.md, "$name expansion"):
//
//	$name ${name} $(name)      the value of name, itself expanded
//	$$                         a literal $
//	${name?text}               text (expanded) if $name is non-empty
//	${name:text}               text (expanded) if $name is empty or undefined
//	${name?{t1}:{t2}}          if/else (also ${name?{t1}} and ${name:{t2}})
//	${{a} OP {b} ? {t} : {f}}  OP is == != (strings), < <= > >= (numbers),
//	                           <level <=level >level >=level (compatibility
//	                           levels such as 3.6 or 3.10)
//
// An undefined name expands to the empty string and is remembered (postconf
// warns "undefined parameter"). Expansion deeper than maxNesting levels is
// a loop: Postfix says `unreasonable macro call nesting: "name"`.

const maxNesting = 100

// lookupFunc returns the raw value of a parameter and whether it has one.
type lookupFunc func(name string) (string, bool)

type expander struct {
	lookup    lookupFunc
	undefined func(name string)
}

// ExpandError is an expansion failure (a loop, a malformed ${...}).
type ExpandError struct{ Msg string }

func (e *ExpandError) Error() string { return e.Msg }

func (x *expander) expand(s string, depth int) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			j := strings.IndexByte(s[i:], '$')
			if j < 0 {
				j = len(s) - i
			}
			b.WriteString(s[i : i+j])
			i += j
			continue
		}
		if i+1 >= len(s) {
			b.WriteByte('$')
			i++
			continue
		}
		switch n := s[i+1]; {
		case n == '$':
			b.WriteByte('$')
			i += 2
		case n == '{' || n == '(':
			closer := byte('}')
			if n == '(' {
				closer = ')'
			}
			end := matchClose(s, i+1, n, closer)
			if end < 0 {
				return "", &ExpandError{fmt.Sprintf("missing '%c' in %q", closer, s[i:])}
			}
			out, err := x.expandBraced(s[i+2:end], depth)
			if err != nil {
				return "", err
			}
			b.WriteString(out)
			i = end + 1
		case isNameByte(n):
			j := i + 1
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			out, err := x.value(s[i+1:j], depth)
			if err != nil {
				return "", err
			}
			b.WriteString(out)
			i = j
		default:
			// A '$' that starts nothing is kept literally.
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), nil
}

// value returns the expanded value of a parameter.
func (x *expander) value(name string, depth int) (string, error) {
	if depth > maxNesting { // Postfix checks level++ > 100
		return "", &ExpandError{fmt.Sprintf("unreasonable macro call nesting: %q", name)}
	}
	raw, ok := x.lookup(name)
	if !ok {
		if x.undefined != nil {
			x.undefined(name)
		}
		return "", nil
	}
	return x.expand(raw, depth+1)
}

// expandBraced expands the inside of ${...}.
func (x *expander) expandBraced(in string, depth int) (string, error) {
	body := strings.TrimSpace(in)
	if strings.HasPrefix(body, "{") {
		return x.relational(body, depth)
	}
	j := 0
	for j < len(body) && isNameByte(body[j]) {
		j++
	}
	name := body[:j]
	if name == "" {
		return "", &ExpandError{fmt.Sprintf("attribute name syntax error at: %q", in)}
	}
	rest := strings.TrimLeft(body[j:], " \t")
	if rest == "" {
		return x.value(name, depth)
	}
	op := rest[0]
	if op != '?' && op != ':' {
		return "", &ExpandError{fmt.Sprintf("unknown operator in: \"${%s}\"", in)}
	}
	val, err := x.value(name, depth)
	if err != nil {
		return "", err
	}
	text := rest[1:]
	var ifSet, ifUnset string
	haveElse := false
	if t := strings.TrimLeft(text, " \t"); strings.HasPrefix(t, "{") {
		first, after, err := braceGroup(t)
		if err != nil {
			return "", err
		}
		after = strings.TrimLeft(after, " \t")
		if op == '?' && strings.HasPrefix(after, ":") {
			second, tail, err := braceGroup(strings.TrimLeft(after[1:], " \t"))
			if err != nil {
				return "", err
			}
			if strings.TrimSpace(tail) != "" {
				return "", &ExpandError{fmt.Sprintf("syntax error after \"}\" in: \"${%s}\"", in)}
			}
			ifSet, ifUnset, haveElse = first, second, true
		} else if strings.TrimSpace(after) != "" {
			return "", &ExpandError{fmt.Sprintf("syntax error after \"}\" in: \"${%s}\"", in)}
		} else if op == '?' {
			ifSet = first
		} else {
			ifUnset = first
		}
	} else if op == '?' {
		ifSet = text
	} else {
		ifUnset = text
	}
	var chosen string
	switch {
	case val != "" && (op == '?'):
		chosen = ifSet
	case val == "" && (op == ':' || haveElse):
		chosen = ifUnset
	default:
		return "", nil
	}
	return x.expand(chosen, depth+1)
}

// relational evaluates "{a} OP {b} ? {t} : {f}".
func (x *expander) relational(body string, depth int) (string, error) {
	left, rest, err := braceGroup(body)
	if err != nil {
		return "", err
	}
	rest = strings.TrimLeft(rest, " \t")
	opEnd := strings.IndexByte(rest, '{')
	if opEnd < 0 {
		return "", &ExpandError{fmt.Sprintf("missing right operand in: \"${%s}\"", body)}
	}
	op := strings.TrimSpace(rest[:opEnd])
	right, rest, err := braceGroup(rest[opEnd:])
	if err != nil {
		return "", err
	}
	rest = strings.TrimLeft(rest, " \t")
	if !strings.HasPrefix(rest, "?") {
		return "", &ExpandError{fmt.Sprintf("\"?\" expected after relational expression in: \"${%s}\"", body)}
	}
	ifTrue, rest, err := braceGroup(strings.TrimLeft(rest[1:], " \t"))
	if err != nil {
		return "", err
	}
	ifFalse := ""
	if rest = strings.TrimLeft(rest, " \t"); strings.HasPrefix(rest, ":") {
		ifFalse, rest, err = braceGroup(strings.TrimLeft(rest[1:], " \t"))
		if err != nil {
			return "", err
		}
	}
	if strings.TrimSpace(rest) != "" {
		return "", &ExpandError{fmt.Sprintf("syntax error in: \"${%s}\"", body)}
	}
	a, err := x.expand(left, depth+1)
	if err != nil {
		return "", err
	}
	b, err := x.expand(right, depth+1)
	if err != nil {
		return "", err
	}
	ok, err := compare(a, op, b)
	if err != nil {
		return "", err
	}
	if ok {
		return x.expand(ifTrue, depth+1)
	}
	return x.expand(ifFalse, depth+1)
}

func compare(a, op, b string) (bool, error) {
	switch op {
	case "==":
		return a == b, nil
	case "!=":
		return a != b, nil
	case "<", "<=", ">", ">=":
		na, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
		nb, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
		if err1 != nil || err2 != nil {
			return false, &ExpandError{fmt.Sprintf("non-numeric operand in: \"%s %s %s\"", a, op, b)}
		}
		return cmpResult(cmpInt(na, nb), op), nil
	case "<level", "<=level", ">level", ">=level":
		la, err := parseLevel(a)
		if err != nil {
			return false, &ExpandError{fmt.Sprintf("malformed compatibility level syntax: \"%s\"", a)}
		}
		lb, err := parseLevel(b)
		if err != nil {
			return false, &ExpandError{fmt.Sprintf("malformed compatibility level syntax: \"%s\"", b)}
		}
		return cmpResult(cmpLevel(la, lb), strings.TrimSuffix(op, "level")), nil
	}
	return false, &ExpandError{fmt.Sprintf("unknown operator: %q", op)}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpResult(c int, op string) bool {
	switch op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

// parseLevel parses a compatibility level "major[.minor[.patch]]"; each part
// is a number compared numerically (3.10 is newer than 3.9).
func parseLevel(s string) ([3]int64, error) {
	var l [3]int64
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) > 3 || parts[0] == "" {
		return l, fmt.Errorf("bad level %q", s)
	}
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 {
			return l, fmt.Errorf("bad level %q", s)
		}
		l[i] = n
	}
	return l, nil
}

func cmpLevel(a, b [3]int64) int {
	for i := range a {
		if c := cmpInt(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// braceGroup splits "{text} rest" into text and rest; s must start with '{'.
func braceGroup(s string) (inner, rest string, err error) {
	if !strings.HasPrefix(s, "{") {
		return "", "", &ExpandError{fmt.Sprintf("\"{\" expected at: %q", s)}
	}
	end := matchClose(s, 0, '{', '}')
	if end < 0 {
		return "", "", &ExpandError{fmt.Sprintf("missing '}' in: %q", s)}
	}
	return s[1:end], s[end+1:], nil
}

// matchClose returns the index of the closer that matches the opener at
// s[start], counting nesting, or -1.
func matchClose(s string, start int, opener, closer byte) int {
	level := 0
	for i := start; i < len(s); i++ {
		switch s[i] {
		case opener:
			level++
		case closer:
			level--
			if level == 0 {
				return i
			}
		}
	}
	return -1
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
