package policy

import (
	"fmt"
	"net/netip"
	"strings"

	"postern/pkg/config"
	"postern/pkg/table"
)

// isPattern reports whether a table matches whole strings (regexp, pcre,
// cidr ...): those get only the full key, never the partial ones.
func isPattern(t table.Table) bool {
	typ, _, _ := table.SplitSpec(strings.TrimPrefix(t.Name(), "proxy:"))
	switch typ {
	case "regexp", "pcre", "cidr", "static", "tcp", "socketmap":
		return true
	}
	return false
}

// lookupKeys tries keys in order (partial ones only on indexed tables) and
// returns the first found value.
func lookupKeys(t table.Table, full []string, partial []string) (value, key string, found bool, err error) {
	for _, k := range full {
		if v, ok, err := t.Lookup(k); err != nil || ok {
			return v, k, ok, err
		}
	}
	if isPattern(t) {
		return "", "", false, nil
	}
	for _, k := range partial {
		if v, ok, err := t.Lookup(k); err != nil || ok {
			return v, k, ok, err
		}
	}
	return "", "", false, nil
}

// domainKeys returns a host name's parent-domain keys: "b.c", "c" when
// smtpd_access_maps is in parent_domain_matches_subdomains, else ".b.c", ".c".
func (c *Checker) domainKeys(name string) []string {
	var out []string
	for {
		i := strings.IndexByte(name, '.')
		if i < 0 || i == len(name)-1 {
			return out
		}
		name = name[i+1:]
		if c.parentMatches {
			out = append(out, name)
		} else {
			out = append(out, "."+name)
		}
	}
}

// addrKeys returns an address and its shortened forms: 1.2.3.4, 1.2.3,
// 1.2, 1; for IPv6 the address and its shorter ":"-groups.
func addrKeys(a netip.Addr) []string {
	a = a.Unmap()
	s := a.String()
	out := []string{s}
	sep := "."
	if a.Is6() {
		sep = ":"
	}
	for {
		i := strings.LastIndex(s, sep)
		if i <= 0 {
			break
		}
		s = strings.TrimRight(s[:i], sep)
		if s == "" {
			break
		}
		out = append(out, s)
	}
	return out
}

// clientAccess is check_client_access: the host name and its parents,
// then the address and its prefixes.
func (e *evaluation) clientAccess(spec string, lc listCtx, name string) status {
	t := e.c.tableOpen(spec)
	s := e.s
	item := listCtx{namaddr(s), classClient, ""}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name != "" && name != "unknown" {
		v, _, found, err := lookupKeys(t, []string{name}, e.c.domainKeys(name))
		if err != nil {
			return e.tempLookup(item.name, err)
		}
		if found {
			return e.accessResult(t, v, lc, item)
		}
	}
	if s.ClientAddr.IsValid() {
		keys := addrKeys(s.ClientAddr)
		v, _, found, err := lookupKeys(t, keys[:1], keys[1:])
		if err != nil {
			return e.tempLookup(item.name, err)
		}
		if found {
			return e.accessResult(t, v, lc, item)
		}
	}
	return stDunno
}

// domainAccess is check_helo_access and check_etrn_access.
func (e *evaluation) domainAccess(spec string, lc listCtx, name string, item listCtx) status {
	t := e.c.tableOpen(spec)
	n := strings.ToLower(strings.TrimSuffix(name, "."))
	var partial []string
	if !strings.HasPrefix(n, "[") {
		partial = e.c.domainKeys(n)
	}
	v, _, found, err := lookupKeys(t, []string{n}, partial)
	if err != nil {
		return e.tempLookup(item.name, err)
	}
	if found {
		return e.accessResult(t, v, lc, item)
	}
	return stDunno
}

// mailAccess is check_sender_access and check_recipient_access:
// user+ext@domain, user@domain, domain and its parents, user+ext@, user@.
func (e *evaluation) mailAccess(spec string, lc listCtx, addr string, item listCtx) status {
	t := e.c.tableOpen(spec)
	var full, partial []string
	if addr == "" {
		full = []string{e.c.nullKey}
	} else {
		a := strings.ToLower(addr)
		full = []string{a}
		local, dom, hasAt := cutLast(a, "@")
		base := e.c.stripExtension(local)
		if base != local && hasAt {
			partial = append(partial, base+"@"+dom)
		}
		if hasAt && dom != "" {
			d := strings.TrimSuffix(dom, ".")
			partial = append(partial, d)
			if !strings.HasPrefix(d, "[") {
				partial = append(partial, e.c.domainKeys(d)...)
			}
		}
		if hasAt {
			partial = append(partial, local+"@")
			if base != local {
				partial = append(partial, base+"@")
			}
		}
	}
	v, _, found, err := lookupKeys(t, full, partial)
	if err != nil {
		return e.tempLookup(item.name, err)
	}
	if found {
		return e.accessResult(t, v, lc, item)
	}
	return stDunno
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// stripExtension removes "+ext" (any recipient_delimiter character) from
// a local part.
func (c *Checker) stripExtension(local string) string {
	if c.delimiters == "" {
		return local
	}
	if i := strings.IndexAny(local, c.delimiters); i > 0 {
		return local[:i]
	}
	return local
}

// accessAction is a parsed access(5) right-hand side.
type accessAction struct {
	kind string // OK, REJECT, DEFER, DEFER_IF_PERMIT, DEFER_IF_REJECT, DISCARD, HOLD, REDIRECT, FILTER, PREPEND, WARN, INFO, DUNNO, BCC, CODE, EMPTY, LIST
	code int    // CODE
	dsn  string // from the text, "" when none was given
	text string
	list []string // LIST: restrictions
}

var accessKeywords = map[string]bool{
	"OK": true, "REJECT": true, "DEFER": true, "DEFER_IF_PERMIT": true, "DEFER_IF_REJECT": true,
	"DISCARD": true, "HOLD": true, "REDIRECT": true, "FILTER": true, "PREPEND": true,
	"WARN": true, "INFO": true, "DUNNO": true, "BCC": true,
}

// parseAccess parses an access table value.
func parseAccess(value string) accessAction {
	value = strings.TrimSpace(value)
	if value == "" {
		return accessAction{kind: "EMPTY"}
	}
	if allDigits(value) {
		return accessAction{kind: "OK"}
	}
	var cmd, text string
	if i := strings.IndexAny(value, " \t"); i >= 0 {
		cmd, text = value[:i], strings.TrimLeft(value[i:], " \t")
	} else {
		cmd, text = value, ""
	}
	up := strings.ToUpper(cmd)
	if accessKeywords[up] {
		a := accessAction{kind: up, text: text}
		switch up {
		case "REJECT", "DEFER", "DEFER_IF_PERMIT", "DEFER_IF_REJECT":
			if d, rest, ok := splitDSN(text); ok {
				a.dsn, a.text = d, rest
			}
		}
		return a
	}
	if (value[0] == '4' || value[0] == '5') && len(cmd) == 3 && isDigit(cmd[1]) && isDigit(cmd[2]) {
		a := accessAction{kind: "CODE", code: int(cmd[0]-'0')*100 + int(cmd[1]-'0')*10 + int(cmd[2]-'0'), text: text}
		if d, rest, ok := splitDSN(text); ok {
			a.dsn, a.text = d, rest
		}
		return a
	}
	return accessAction{kind: "LIST", list: config.SplitList(value)}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// accessResult applies an access table value found for item.
func (e *evaluation) accessResult(t table.Table, value string, lc listCtx, item listCtx) status {
	c := e.c
	a := parseAccess(value)
	orText := func(def string) string {
		if a.text != "" {
			return a.text
		}
		return def
	}
	orDSN := func(def string) string {
		if a.dsn != "" {
			return a.dsn
		}
		return def
	}
	rejText := func(def string) string {
		return fmt.Sprintf("<%s>: %s rejected: %s", item.name, item.class, orText(def))
	}
	logLine := func(what, text string) {
		e.d.Warn = append(e.d.Warn, whatsup(what, e.stage, e.s, text))
		e.dynamic = true
	}
	switch a.kind {
	case "EMPTY":
		c.warnf("access table %s has empty value for %s: treating it as OK", t.Name(), item.name)
		return stOK
	case "OK":
		return stOK
	case "DUNNO":
		return stDunno
	case "REJECT":
		return e.reject(item, reply{c.codes["access_map_reject_code"], orDSN("5.7.1"), rejText("Access denied")})
	case "DEFER":
		return e.reject(item, reply{c.codes["access_map_defer_code"], orDSN("4.7.1"), rejText("Access denied")})
	case "DEFER_IF_PERMIT":
		return e.deferIfPermit(item, reply{c.codes["access_map_defer_code"], orDSN("4.7.1"), rejText("Service unavailable")})
	case "DEFER_IF_REJECT":
		return e.deferIfReject(item, reply{c.codes["access_map_defer_code"], orDSN("4.7.1"), rejText("Service unavailable")})
	case "CODE":
		dsn := orDSN(fmt.Sprintf("%d.7.1", a.code/100))
		return e.reject(item, reply{a.code, dsn, rejText("Access denied")})
	case "DISCARD":
		e.d.Discard = true
		logLine("discard", fmt.Sprintf("<%s>: %s %s", item.name, item.class, orText("triggers DISCARD action")))
		return stOK
	case "HOLD":
		e.d.Hold = true
		logLine("hold", fmt.Sprintf("<%s>: %s %s", item.name, item.class, orText("triggers HOLD action")))
		return stDunno
	case "REDIRECT":
		if a.text == "" {
			c.warnf("access table %s entry for %s has REDIRECT without destination", t.Name(), item.name)
			return e.serverError()
		}
		e.d.Redirect = a.text
		logLine("redirect", fmt.Sprintf("<%s>: %s triggers REDIRECT %s", item.name, item.class, a.text))
		return stDunno
	case "FILTER":
		if !strings.Contains(a.text, ":") {
			c.warnf("access table %s entry for %s has FILTER without transport:destination", t.Name(), item.name)
			return e.serverError()
		}
		e.d.Filter = a.text
		logLine("filter", fmt.Sprintf("<%s>: %s triggers FILTER %s", item.name, item.class, a.text))
		return stDunno
	case "PREPEND":
		if !isHeader(a.text) {
			c.warnf("access table %s entry for %s requires header: text", t.Name(), item.name)
			return stDunno
		}
		if e.stage == StageEndOfData {
			c.warnf("access table %s: PREPEND is not allowed in %s", t.Name(), listEOD)
			return stDunno
		}
		e.d.Prepend = append(e.d.Prepend, a.text)
		e.dynamic = true
		return stDunno
	case "WARN":
		logLine("warn", a.text)
		return stDunno
	case "INFO":
		logLine("info", a.text)
		return stDunno
	case "BCC":
		c.warnf("access table %s: BCC is not supported: ignoring it", t.Name())
		return stDunno
	}
	// A list of restrictions (or restriction class names).
	e.dynamic = true
	return e.run(a.list, lc)
}

// isHeader reports whether s looks like "Name: value".
func isHeader(s string) bool {
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return false
	}
	for j := 0; j < i; j++ {
		ch := s[j]
		if ch <= ' ' || ch >= 127 {
			return false
		}
	}
	return true
}

// checkRcptMaps is recipient validation (smtpd_reject_unlisted_recipient,
// reject_unlisted_recipient/sender): relocated_maps, virtual_alias_maps,
// then the table of the address's class.
func (e *evaluation) checkRcptMaps(lc listCtx, addr string, isSender bool) status {
	c := e.c
	snd, _ := e.sender()
	res, err := c.resolver.Resolve(e.ctx, snd, addr)
	if err == nil && res.Flags&flagFail != 0 {
		err = fmt.Errorf("trivial-rewrite lookup failure")
	}
	if err != nil {
		c.warnf("resolve %s: %v", addr, err)
		return e.tempLookup(addr, err)
	}
	rcpt := strings.ToLower(res.Recipient)
	local, dom, _ := cutLast(rcpt, "@")
	isLocal := res.Flags&classLocal != 0
	// Mail to the double-bounce address is always accepted.
	if isLocal && c.doubleBounce != "" && local == strings.ToLower(c.doubleBounce) {
		return stDunno
	}
	keys := c.addrKeys(local, dom, isLocal)
	find := func(maps []table.Table) (string, bool, error) {
		for _, k := range keys {
			for _, t := range maps {
				v, ok, err := t.Lookup(k)
				if err != nil || ok {
					return v, ok, err
				}
			}
		}
		return "", false, nil
	}
	if v, ok, err := find(c.relocatedMaps); err != nil {
		return e.tempLookup(addr, err)
	} else if ok {
		return e.reject(lc, reply{550, "5.1.6", fmt.Sprintf("<%s>: %s rejected: User has moved to %s", addr, lc.class, v)})
	}
	if _, ok, err := find(c.virtAliasMaps); err != nil {
		return e.tempLookup(addr, err)
	} else if ok {
		return stDunno
	}
	unknown := func(codeParam, tableName string) status {
		text := "User unknown"
		if c.showTableName {
			text += " in " + tableName
		}
		return e.reject(lc, reply{c.codes[codeParam], "5.1.1", fmt.Sprintf("<%s>: %s rejected: %s", addr, lc.class, text)})
	}
	check := func(maps []table.Table, codeParam, tableName string) status {
		if len(maps) == 0 {
			return stDunno
		}
		_, ok, err := find(maps)
		if err != nil {
			return e.tempLookup(addr, err)
		}
		if ok {
			return stDunno
		}
		return unknown(codeParam, tableName)
	}
	switch {
	case isLocal:
		return check(c.localRcptMaps, "unknown_local_recipient_reject_code", "local recipient table")
	case res.Flags&classAlias != 0:
		return unknown("unknown_virtual_alias_reject_code", "virtual alias table")
	case res.Flags&classVirtual != 0:
		return check(c.virtMailboxMaps, "unknown_virtual_mailbox_reject_code", "virtual mailbox table")
	case res.Flags&classRelay != 0:
		return check(c.relayRcptMaps, "unknown_relay_recipient_reject_code", "relay recipient table")
	}
	_ = isSender
	return stDunno
}

// addrKeys are the keys of Postfix's mail_addr_find: user+ext@domain,
// user@domain, then (local domains only) user+ext and user, then @domain.
func (c *Checker) addrKeys(local, dom string, isLocal bool) []string {
	base := c.stripExtension(local)
	keys := []string{local + "@" + dom}
	if base != local {
		keys = append(keys, base+"@"+dom)
	}
	if isLocal {
		keys = append(keys, local)
		if base != local {
			keys = append(keys, base)
		}
	}
	if dom != "" {
		keys = append(keys, "@"+dom)
	}
	return keys
}
