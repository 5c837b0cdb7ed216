package table

import (
	"fmt"
	"net/netip"
	"os"
	"postern/pkg/strerror"
	"strings"
)

type cidrRule struct {
	kind   ruleKind
	prefix netip.Prefix
	negate bool
	value  string
	skipTo int
	line   int
}

// cidrTable is a cidr: table.
type cidrTable struct {
	name  string
	rules []cidrRule
	st    stamp
}

// parseCIDRPattern parses "[!]addr[/len]" (IPv6 addresses may be written
// in brackets). problem is Postfix's warning text on failure.
func parseCIDRPattern(pat string) (p netip.Prefix, negate bool, problem string) {
	orig := pat
	for strings.HasPrefix(pat, "!") {
		negate = !negate
		pat = pat[1:]
	}
	addrPart, lenPart, hasLen := strings.Cut(pat, "/")
	if strings.HasPrefix(addrPart, "[") && strings.HasSuffix(addrPart, "]") {
		addrPart = addrPart[1 : len(addrPart)-1]
	}
	a, err := netip.ParseAddr(addrPart)
	if err != nil || a.Zone() != "" {
		if hasLen {
			return p, false, fmt.Sprintf("bad net/mask pattern: \"%s\"", orig)
		}
		return p, false, fmt.Sprintf("bad address pattern: \"%s\"", orig)
	}
	bits := a.BitLen()
	if hasLen {
		n := 0
		if lenPart == "" || len(lenPart) > 3 {
			return p, false, fmt.Sprintf("bad net/mask pattern: \"%s\"", orig)
		}
		for _, c := range []byte(lenPart) {
			if c < '0' || c > '9' {
				return p, false, fmt.Sprintf("bad net/mask pattern: \"%s\"", orig)
			}
			n = n*10 + int(c-'0')
		}
		if n > a.BitLen() {
			return p, false, fmt.Sprintf("bad net/mask pattern: \"%s\"", orig)
		}
		bits = n
	}
	p = netip.PrefixFrom(a, bits)
	if p.Masked() != p {
		return p, false, fmt.Sprintf("non-null host address bits in \"%s\", perhaps you should use \"%s\" instead", strings.TrimLeft(orig, "!"), p.Masked())
	}
	return p, negate, ""
}

// parseCIDR parses a cidr: table source; bad rules are reported through
// warn and skipped, as Postfix does.
func parseCIDR(src, name string, warn func(string, ...any)) []cidrRule {
	var rules []cidrRule
	var open []int
	lr := NewLineReader(strings.NewReader(src), name, warn)
	for {
		line, lineno, ok := lr.Next()
		if !ok {
			break
		}
		w := func(format string, args ...any) {
			warn("cidr map %s, line %d: "+format, append([]any{name, lineno}, args...)...)
		}
		if p, ok := keyword(line, "if"); ok {
			pat, rest, _ := strings.Cut(p, " ")
			pat, _, _ = strings.Cut(pat, "\t")
			pfx, neg, problem := parseCIDRPattern(pat)
			r := cidrRule{kind: ruleIf, prefix: pfx, negate: neg, line: lineno}
			if problem != "" {
				w("%s: skipping this rule", problem)
				r.prefix = netip.Prefix{}
			} else if strings.TrimSpace(rest) != "" {
				w("ignoring extra text after IF")
			}
			rules = append(rules, r)
			open = append(open, len(rules)-1)
			continue
		}
		if p, ok := keyword(line, "endif"); ok {
			if len(open) == 0 {
				w("ignoring ENDIF without matching IF")
				continue
			}
			if p != "" {
				w("ignoring extra text after ENDIF")
			}
			rules = append(rules, cidrRule{kind: ruleEndif, line: lineno})
			rules[open[len(open)-1]].skipTo = len(rules) - 1
			open = open[:len(open)-1]
			continue
		}
		i := strings.IndexAny(line, " \t\r\n\v\f")
		pat, value := line, ""
		if i >= 0 {
			pat, value = line[:i], strings.Trim(line[i:], " \t\r\n\v\f")
		}
		pfx, neg, problem := parseCIDRPattern(pat)
		if problem != "" {
			w("%s: skipping this rule", problem)
			continue
		}
		if value == "" {
			w("no lookup result: skipping this rule")
			continue
		}
		rules = append(rules, cidrRule{kind: ruleMatch, prefix: pfx, negate: neg, value: value, line: lineno})
	}
	for _, i := range open {
		warn("cidr map %s, line %d: IF has no matching ENDIF", name, rules[i].line)
		rules[i].skipTo = len(rules)
	}
	return rules
}

func openCIDR(path string, o *options) (Table, error) {
	st := stampOf(path)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %s", path, strerror.Text(err))
	}
	return &cidrTable{name: "cidr:" + path, rules: parseCIDR(string(b), path, o.warn), st: st}, nil
}

func (t *cidrTable) Name() string  { return t.name }
func (t *cidrTable) Changed() bool { return t.st.changed() }
func (t *cidrTable) Close() error  { return nil }

// Lookup matches the key, an IP address, against the rules in file
// order; the first match wins. A key that is not an address is not found.
func (t *cidrTable) Lookup(key string) (string, bool, error) {
	a, err := netip.ParseAddr(key)
	if err != nil {
		return "", false, nil
	}
	for i := 0; i < len(t.rules); i++ {
		r := &t.rules[i]
		switch r.kind {
		case ruleEndif:
			continue
		case ruleIf:
			if !r.prefix.IsValid() || !sameFamily(r.prefix, a) || matchPrefix(r.prefix, a) == r.negate {
				i = r.skipTo
			}
			continue
		}
		if sameFamily(r.prefix, a) && matchPrefix(r.prefix, a) != r.negate {
			return r.value, true, nil
		}
	}
	return "", false, nil
}

// sameFamily: as in Postfix, a rule applies only to keys of its address
// family, negated or not.
func sameFamily(p netip.Prefix, a netip.Addr) bool { return p.Addr().Is4() == a.Is4() }

func matchPrefix(p netip.Prefix, a netip.Addr) bool {
	return p.Addr().Is4() == a.Is4() && p.Contains(a)
}
