package policy

import (
	"bufio"
	"net/netip"
	"os"
	"strings"

	"postern/pkg/config"
	"postern/pkg/table"
)

// netList is a Postfix "namadr" list as mynetworks uses it: network/mask
// ("127.0.0.0/8", "[::1]/128"), addresses ("192.0.2.1", "[2001:db8::1]"),
// host or domain names (matching the client name and, as mynetworks is in
// parent_domain_matches_subdomains, its subdomains; ".domain" for
// subdomains only), "/file/name" (more entries, one or more per line),
// "type:table" (the client name or address looked up), each optionally
// negated with "!". The first matching entry decides.
type netList struct {
	entries []netEntry
}

type netEntry struct {
	neg    bool
	prefix netip.Prefix
	name   string
	tab    table.Table
}

func (c *Checker) parseNetList(s string) *netList {
	l := &netList{}
	c.addNetEntries(l, config.SplitList(s), 0)
	return l
}

func (c *Checker) addNetEntries(l *netList, items []string, depth int) {
	for _, it := range items {
		e := netEntry{}
		if strings.HasPrefix(it, "!") {
			e.neg = true
			it = strings.TrimSpace(it[1:])
		}
		switch {
		case it == "":
			continue
		case strings.HasPrefix(it, "/"):
			if depth > 5 {
				continue
			}
			data, err := os.ReadFile(it)
			if err != nil {
				c.warnf("mynetworks: %v", err)
				continue
			}
			var sub []string
			sc := bufio.NewScanner(strings.NewReader(string(data)))
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				sub = append(sub, config.SplitList(line)...)
			}
			c.addNetEntries(l, sub, depth+1)
			continue
		case strings.Contains(it, ":") && !strings.HasPrefix(it, "[") && !isAddrLike(it):
			e.tab = c.tableOpen(it)
		default:
			if p, ok := parsePrefix(it); ok {
				e.prefix = p
			} else {
				e.name = strings.ToLower(strings.TrimSuffix(it, "."))
			}
		}
		l.entries = append(l.entries, e)
	}
}

func isAddrLike(s string) bool {
	a, _, _ := strings.Cut(s, "/")
	_, err := netip.ParseAddr(a)
	return err == nil
}

// parsePrefix parses "1.2.3.0/24", "[2001:db8::]/32", "1.2.3.4", "[::1]".
func parsePrefix(s string) (netip.Prefix, bool) {
	addr, bits, hasBits := strings.Cut(s, "/")
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap().WithZone("")
	if !hasBits {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(a.String() + "/" + bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}

// match reports whether the client matches; err is a table lookup error.
func (l *netList) match(addr netip.Addr, name string) (bool, error) {
	addr = addr.Unmap()
	name = strings.ToLower(name)
	for _, e := range l.entries {
		hit := false
		switch {
		case e.tab != nil:
			for _, k := range []string{name, addr.String()} {
				if k == "" || k == "unknown" {
					continue
				}
				_, found, err := e.tab.Lookup(k)
				if err != nil {
					return false, err
				}
				if found {
					hit = true
					break
				}
			}
		case e.prefix.IsValid():
			hit = addr.IsValid() && e.prefix.Contains(addr)
		case e.name != "":
			if name != "" && name != "unknown" {
				if strings.HasPrefix(e.name, ".") {
					hit = strings.HasSuffix(name, e.name)
				} else {
					hit = name == e.name || strings.HasSuffix(name, "."+e.name)
				}
			}
		}
		if hit {
			return !e.neg, nil
		}
	}
	return false, nil
}
