package table

import (
	"fmt"
	"os"
	"postern/pkg/strerror"
	"regexp"
	"strconv"
	"strings"
)

type ruleKind int

const (
	ruleMatch ruleKind = iota
	ruleIf
	ruleEndif
)

type replPart struct {
	lit   string
	group int // >0: substitute this group; 0: literal
}

type reRule struct {
	kind   ruleKind
	re     *regexp.Regexp
	negate bool
	repl   []replPart
	skipTo int // for ruleIf: index of the matching endif (or len(rules))
	line   int
}

// reTable is a regexp: or pcre: table.
type reTable struct {
	name  string
	rules []reRule
	st    stamp
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func keyword(p, kw string) (rest string, ok bool) {
	if len(p) < len(kw) || !strings.EqualFold(p[:len(kw)], kw) {
		return "", false
	}
	if len(p) > len(kw) && isAlnum(p[len(kw)]) {
		return "", false
	}
	return strings.TrimLeft(p[len(kw):], " \t\r\n\v\f"), true
}

type reParser struct {
	path   string
	pcre   bool
	lineno int
	warn   func(string, ...any)
	what   string // "regexp map FILE" or "pcre map FILE"
}

func (rp *reParser) warnf(format string, args ...any) {
	rp.warn("%s, line %d: "+format, append([]any{rp.what, rp.lineno}, args...)...)
}

// pattern parses [!...]DELIM re DELIM flags at the start of p and
// returns the compiled expression and the text after the flags. fatal
// is set for a pcre pattern that Go's RE2 engine cannot express.
func (rp *reParser) pattern(p string) (re *regexp.Regexp, negate bool, rest string, ok bool, fatal error) {
	for len(p) > 0 && p[0] == '!' {
		negate = !negate
		p = p[1:]
	}
	if p == "" {
		rp.warnf("no regexp delimiter: skipping this rule")
		return nil, false, "", false, nil
	}
	delim := p[0]
	i := 1
	for ; i < len(p) && p[i] != delim; i++ {
		if p[i] == '\\' && i+1 < len(p) {
			i++
		}
	}
	if i >= len(p) {
		rp.warnf("no closing regexp delimiter \"%c\": skipping this rule", delim)
		return nil, false, "", false, nil
	}
	pat := p[1:i]
	p = p[i+1:]
	// Flags are toggles; the defaults are Postfix's.
	icase, multi := true, false
	extended := true // regexp: x = REG_EXTENDED (on); pcre: x = PCRE_EXTENDED (off)
	dotall, anchored, ungreedy := true, false, false
	if rp.pcre {
		extended = false
	}
	for len(p) > 0 && !isSpace(p[0]) {
		c := p[0]
		p = p[1:]
		switch {
		case c == 'i':
			icase = !icase
		case c == 'm':
			multi = !multi
		case c == 'x':
			extended = !extended
		case rp.pcre && c == 's':
			dotall = !dotall
		case rp.pcre && c == 'A':
			anchored = !anchored
		case rp.pcre && c == 'U':
			ungreedy = !ungreedy
		case rp.pcre && (c == 'E' || c == 'X'):
			// E (dollar end only) is Go's behaviour already; X is a no-op.
		default:
			rp.warnf("unknown regexp option \"%c\": skipping this rule", c)
			return nil, false, "", false, nil
		}
	}
	var pre string
	if icase {
		pre += "i"
	}
	if rp.pcre {
		if multi {
			pre += "m"
		}
		if dotall {
			pre += "s"
		}
		if ungreedy {
			pre += "U"
		}
		if extended {
			pat = stripExtended(pat)
		}
		if anchored {
			pat = `\A(?:` + pat + `)`
		}
	} else {
		// POSIX: without REG_NEWLINE "." matches a newline and ^/$ match
		// only at the ends; with it (the m flag), the reverse.
		if multi {
			pre += "m"
		} else {
			pre += "s"
		}
		if !extended {
			pat = breToERE(pat)
		}
	}
	expr := pat
	if pre != "" {
		expr = "(?" + pre + ")" + pat
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		if rp.pcre {
			return nil, false, "", false, fmt.Errorf("%s, line %d: pattern /%s/ cannot be used: Go's RE2 engine has no lookaround, backreferences, atomic groups, possessive quantifiers or recursion (%v)", rp.what, rp.lineno, pat, err)
		}
		rp.warnf("%v: skipping this rule", err)
		return nil, false, "", false, nil
	}
	if !rp.pcre {
		re.Longest() // POSIX leftmost-longest matching
	}
	return re, negate, strings.TrimLeft(p, " \t\r\n\v\f"), true, nil
}

// stripExtended removes whitespace and #-comments outside character
// classes, as PCRE_EXTENDED does.
func stripExtended(s string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			b.WriteByte(c)
			i++
			b.WriteByte(s[i])
			continue
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
		case isSpace(c):
			continue
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// breToERE rewrites a POSIX basic regular expression as an extended one:
// \( \) \{ \} \| \+ \? become operators, and their bare forms literals.
func breToERE(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			n := s[i+1]
			i++
			if strings.IndexByte("(){}|+?", n) >= 0 {
				b.WriteByte(n)
			} else {
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			continue
		}
		if strings.IndexByte("(){}|+?", c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// replacement parses the result text: $n, ${n}, $(n) and $$.
func (rp *reParser) replacement(s string, nsub int, negate bool) ([]replPart, bool) {
	var parts []replPart
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' {
			lit.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			rp.warnf("bad replacement syntax: skipping this rule")
			return nil, false
		}
		if s[i] == '$' {
			lit.WriteByte('$')
			continue
		}
		var name string
		if s[i] == '{' || (!rp.pcre && s[i] == '(') {
			closer := byte('}')
			if s[i] == '(' {
				closer = ')'
			}
			j := strings.IndexByte(s[i+1:], closer)
			if j < 0 {
				rp.warnf("bad replacement syntax: skipping this rule")
				return nil, false
			}
			name = s[i+1 : i+1+j]
			i += 1 + j
		} else {
			j := i
			for j < len(s) && (isAlnum(s[j]) || s[j] == '_') {
				j++
			}
			name = s[i:j]
			i = j - 1
		}
		n, err := strconv.Atoi(name)
		if err != nil || n < 0 {
			rp.warnf("non-numeric replacement index \"%s\"", name)
			rp.warnf("bad replacement syntax: skipping this rule")
			return nil, false
		}
		if negate {
			rp.warnf("$number found in negative match replacement text: skipping this rule")
			return nil, false
		}
		if n > nsub || n == 0 {
			rp.warnf("out of range replacement index \"%d\": skipping this rule", n)
			return nil, false
		}
		if lit.Len() > 0 {
			parts = append(parts, replPart{lit: lit.String()})
			lit.Reset()
		}
		parts = append(parts, replPart{group: n})
	}
	if lit.Len() > 0 {
		parts = append(parts, replPart{lit: lit.String()})
	}
	return parts, true
}

// parseRegexp parses a regexp: (or, with pcre, a pcre:) table source.
// name is the file name used in messages. Rules with errors are reported
// through warn and skipped, as Postfix does; a pcre pattern that Go's
// RE2 engine cannot express is an error.
func parseRegexp(src, name string, pcre bool, warn func(string, ...any)) ([]reRule, error) {
	rp := &reParser{path: name, pcre: pcre, warn: warn, what: "regexp map " + name}
	if pcre {
		rp.what = "pcre map " + name
	}
	var rules []reRule
	var open []int // indexes of unclosed ifs
	lr := NewLineReader(strings.NewReader(src), name, warn)
	for {
		line, lineno, ok := lr.Next()
		if !ok {
			break
		}
		rp.lineno = lineno
		if !isAlnum(line[0]) {
			re, neg, rest, ok, fatal := rp.pattern(line)
			if fatal != nil {
				return nil, fatal
			}
			if !ok {
				continue
			}
			if rest == "" {
				rp.warnf("no replacement text: using empty string")
			}
			parts, ok := rp.replacement(rest, re.NumSubexp(), neg)
			if !ok {
				continue
			}
			rules = append(rules, reRule{kind: ruleMatch, re: re, negate: neg, repl: parts, line: lineno})
		} else if p, ok := keyword(line, "if"); ok {
			re, neg, rest, ok, fatal := rp.pattern(p)
			if fatal != nil {
				return nil, fatal
			}
			if !ok {
				// Postfix skips the whole IF block when its pattern is bad.
				rules = append(rules, reRule{kind: ruleIf, re: nil, line: lineno})
				open = append(open, len(rules)-1)
				continue
			}
			if rest != "" {
				rp.warnf("ignoring extra text after IF")
			}
			rules = append(rules, reRule{kind: ruleIf, re: re, negate: neg, line: lineno})
			open = append(open, len(rules)-1)
		} else if p, ok := keyword(line, "endif"); ok {
			if len(open) == 0 {
				rp.warnf("ignoring ENDIF without matching IF")
				continue
			}
			if p != "" {
				rp.warnf("ignoring extra text after ENDIF")
			}
			rules = append(rules, reRule{kind: ruleEndif, line: lineno})
			rules[open[len(open)-1]].skipTo = len(rules) - 1
			open = open[:len(open)-1]
		} else {
			rp.warnf("ignoring unrecognized request")
		}
	}
	for _, i := range open {
		rp.lineno = rules[i].line
		rp.warnf("IF has no matching ENDIF")
		rules[i].skipTo = len(rules)
	}
	return rules, nil
}

func openRegexp(path string, pcre bool, o *options) (Table, error) {
	typ := "regexp"
	if pcre {
		typ = "pcre"
	}
	st := stampOf(path)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %s", path, strerror.Text(err))
	}
	rules, err := parseRegexp(string(b), path, pcre, o.warn)
	if err != nil {
		return nil, err
	}
	return &reTable{name: typ + ":" + path, rules: rules, st: st}, nil
}

func (t *reTable) Name() string  { return t.name }
func (t *reTable) Changed() bool { return t.st.changed() }
func (t *reTable) Close() error  { return nil }

// Lookup tries the rules top to bottom; the first match wins.
func (t *reTable) Lookup(key string) (string, bool, error) {
	return lookupRules(t.rules, key)
}

func lookupRules(rules []reRule, key string) (string, bool, error) {
	for i := 0; i < len(rules); i++ {
		r := &rules[i]
		switch r.kind {
		case ruleEndif:
			continue
		case ruleIf:
			if r.re == nil || r.re.MatchString(key) == r.negate {
				i = r.skipTo
			}
			continue
		}
		if r.negate {
			if !r.re.MatchString(key) {
				return expand(r.repl, key, nil), true, nil
			}
			continue
		}
		var m []int
		if len(r.repl) > 0 && hasGroups(r.repl) {
			m = r.re.FindStringSubmatchIndex(key)
			if m == nil {
				continue
			}
		} else if !r.re.MatchString(key) {
			continue
		}
		return expand(r.repl, key, m), true, nil
	}
	return "", false, nil
}

func hasGroups(parts []replPart) bool {
	for _, p := range parts {
		if p.group > 0 {
			return true
		}
	}
	return false
}

func expand(parts []replPart, key string, m []int) string {
	if len(parts) == 1 && parts[0].group == 0 {
		return parts[0].lit
	}
	var b strings.Builder
	for _, p := range parts {
		if p.group == 0 {
			b.WriteString(p.lit)
		} else if 2*p.group+1 < len(m) && m[2*p.group] >= 0 {
			b.WriteString(key[m[2*p.group]:m[2*p.group+1]])
		}
	}
	return b.String()
}
