package rewrite

import (
	"fmt"
	"os"
	"strings"

	"postern/pkg/config"
	"postern/pkg/log"
	"postern/pkg/table"
)

// MatchStyle says how a DomainList compares a domain with its patterns.
type MatchStyle int

const (
	// MatchExact is Postfix's string_list (mydestination,
	// virtual_alias_domains, virtual_mailbox_domains): the domain must
	// equal a pattern (case-insensitively) or be a key of a listed table.
	MatchExact MatchStyle = iota
	// MatchDotParent is a domain_list whose parameter is not in
	// parent_domain_matches_subdomains: "example.com" matches only itself,
	// ".example.com" matches its subdomains; tables are queried with the
	// domain, then ".parent" forms.
	MatchDotParent
	// MatchParent is a domain_list whose parameter is in
	// parent_domain_matches_subdomains (relay_domains by default):
	// "example.com" matches itself and its subdomains; tables are queried
	// with the domain, then each parent domain.
	MatchParent
)

// DomainList is a Postfix domain match list: a list parameter whose
// elements are domain names, "!"-negated patterns, "/file/name" (the file's
// words, "#" comment lines allowed) and "type:table" lookups. The first
// matching element decides; a negated one makes the list not match.
type DomainList struct {
	name  string
	style MatchStyle
	items []listItem
}

type listItem struct {
	neg bool
	pat string      // lower-cased pattern, or
	tab table.Table // a lookup table
}

// OpenDomainList opens the domain list of a main.cf parameter with the
// match style Postfix uses for it: MatchParent when the parameter is in
// parent_domain_matches_subdomains and is a domain list (relay_domains),
// MatchExact for mydestination and the virtual_*_domains lists. It returns
// nil (an empty list, which matches nothing) when the parameter is empty.
func OpenDomainList(cfg *config.Config, param string, style MatchStyle) (*DomainList, error) {
	elems := cfg.List(param)
	if len(elems) == 0 {
		return nil, nil
	}
	if style != MatchExact {
		style = MatchDotParent
		for _, p := range cfg.List("parent_domain_matches_subdomains") {
			if p == param {
				style = MatchParent
			}
		}
	}
	return NewDomainList(param, elems, style)
}

// NewDomainList builds a domain list named name (for messages) from its
// elements.
func NewDomainList(name string, elems []string, style MatchStyle) (*DomainList, error) {
	l := &DomainList{name: name, style: style}
	if err := l.add(elems, 0); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *DomainList) add(elems []string, depth int) error {
	for _, e := range elems {
		neg := false
		for strings.HasPrefix(e, "!") {
			neg = !neg
			e = e[1:]
		}
		switch {
		case e == "":
			continue
		case strings.HasPrefix(e, "/") && depth == 0:
			data, err := os.ReadFile(e)
			if err != nil {
				return fmt.Errorf("%s: %v", l.name, err)
			}
			var words []string
			for _, line := range strings.Split(string(data), "\n") {
				if t := strings.TrimSpace(line); t == "" || t[0] == '#' {
					continue
				}
				words = append(words, config.SplitList(line)...)
			}
			if neg {
				for i := range words {
					words[i] = "!" + words[i]
				}
			}
			if err := l.add(words, depth+1); err != nil {
				return err
			}
		case strings.Contains(e, ":") && !strings.HasPrefix(e, "["):
			t, err := table.Open(e, 0, table.Warn(log.Warningf))
			if err != nil {
				return fmt.Errorf("%s: %v", l.name, err)
			}
			l.items = append(l.items, listItem{neg: neg, tab: t})
		default:
			l.items = append(l.items, listItem{neg: neg, pat: strings.ToLower(e)})
		}
	}
	return nil
}

// Match reports whether domain is in the list. A table lookup error is
// returned as err (never as a miss). A nil list matches nothing.
func (l *DomainList) Match(domain string) (bool, error) {
	if l == nil {
		return false, nil
	}
	d := strings.ToLower(domain)
	for _, it := range l.items {
		m, err := l.matchItem(it, d)
		if err != nil {
			return false, err
		}
		if m {
			return !it.neg, nil
		}
	}
	return false, nil
}

func (l *DomainList) matchItem(it listItem, d string) (bool, error) {
	if it.tab != nil {
		fixed := !isRegexpTable(it.tab)
		for key := d; key != ""; {
			if key == d || fixed {
				_, found, err := it.tab.Lookup(key)
				if err != nil {
					return false, fmt.Errorf("%s: %s: %v", l.name, it.tab.Name(), err)
				}
				if found {
					return true, nil
				}
			}
			if l.style == MatchExact {
				break
			}
			i := strings.IndexByte(key[1:], '.')
			if i < 0 {
				break
			}
			key = key[i+1:]
			if l.style == MatchParent {
				key = key[1:]
			}
		}
		return false, nil
	}
	if d == it.pat {
		return true, nil
	}
	switch l.style {
	case MatchParent:
		p := strings.TrimPrefix(it.pat, ".")
		return len(d) > len(p) && strings.HasSuffix(d, p) && d[len(d)-len(p)-1] == '.', nil
	case MatchDotParent:
		return strings.HasPrefix(it.pat, ".") && len(d) > len(it.pat) && strings.HasSuffix(d, it.pat), nil
	}
	return false, nil
}

// Changed returns the name of a table of the list whose file changed since
// it was opened, or "".
func (l *DomainList) Changed() string {
	if l == nil {
		return ""
	}
	for _, it := range l.items {
		if it.tab != nil && it.tab.Changed() {
			return it.tab.Name()
		}
	}
	return ""
}

// Close releases the list's tables.
func (l *DomainList) Close() {
	if l == nil {
		return
	}
	for _, it := range l.items {
		if it.tab != nil {
			it.tab.Close()
		}
	}
}

// isRegexpTable reports whether t matches whole strings by pattern (regexp,
// pcre): Postfix queries such tables only with the full key, never with
// partial keys (parent domains, stripped addresses).
func isRegexpTable(t table.Table) bool {
	n := t.Name()
	return strings.HasPrefix(n, "regexp:") || strings.HasPrefix(n, "pcre:")
}

// Maps is a list of lookup tables named by one main.cf parameter
// (transport_maps = hash:/a, regexp:/b), queried in order: the first table
// that has the key answers (Postfix's maps_find).
type Maps struct {
	Name   string // the parameter
	tables []table.Table
}

// OpenMaps opens the tables of a list parameter; nil when it is empty.
func OpenMaps(cfg *config.Config, param string) (*Maps, error) {
	specs := cfg.List(param)
	if len(specs) == 0 {
		return nil, nil
	}
	m := &Maps{Name: param}
	for _, s := range specs {
		t, err := table.Open(s, 0, table.Warn(log.Warningf))
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("%s: %v", param, err)
		}
		m.tables = append(m.tables, t)
	}
	return m, nil
}

// NewMaps wraps already opened tables.
func NewMaps(name string, tables ...table.Table) *Maps {
	return &Maps{Name: name, tables: tables}
}

// Find looks key up in each table in turn. partial says the key is a
// partial form (a domain of an address, a stripped address), which regexp
// and pcre tables are not asked. Keys are lower-cased for the other tables
// (Postfix's fixed-string tables fold case). A lookup error stops the
// search.
func (m *Maps) Find(key string, partial bool) (value string, found bool, err error) {
	if m == nil {
		return "", false, nil
	}
	var lower string
	for _, t := range m.tables {
		k := key
		if isRegexpTable(t) {
			if partial {
				continue
			}
		} else {
			if lower == "" {
				lower = strings.ToLower(key)
			}
			k = lower
		}
		v, ok, err := t.Lookup(k)
		if err != nil {
			return "", false, fmt.Errorf("%s: %v", t.Name(), err)
		}
		if ok {
			return v, true, nil
		}
	}
	return "", false, nil
}

// Changed returns the name of a table whose file changed, or "".
func (m *Maps) Changed() string {
	if m == nil {
		return ""
	}
	for _, t := range m.tables {
		if t.Changed() {
			return t.Name()
		}
	}
	return ""
}

// Close releases the tables.
func (m *Maps) Close() {
	if m == nil {
		return
	}
	for _, t := range m.tables {
		t.Close()
	}
}
