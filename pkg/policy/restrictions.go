package policy

import (
	"fmt"
	"net/netip"
	"strings"

	"postern/pkg/dnsbl"
)

// notImplemented are restrictions postern knows but does not implement:
// they log a warning and decide nothing.
var notImplemented = map[string]bool{
	"permit_tls_clientcerts": true, "permit_tls_all_clientcerts": true,
	"reject_unverified_recipient": true, "reject_unverified_sender": true,
	"permit_inet_interfaces": true, "reject_sender_login_mismatch": true,
	"reject_authenticated_sender_login_mismatch": true, "reject_known_sender_login_mismatch": true,
	"reject_unauthenticated_sender_login_mismatch": true, "permit_mx_backup": true,
	"reject_unknown_forward_client_hostname": true,
	"check_client_a_access":                  true, "check_helo_a_access": true, "check_sender_a_access": true,
	"check_recipient_a_access": true, "check_client_mx_access": true, "check_helo_mx_access": true,
	"check_sender_mx_access": true, "check_recipient_mx_access": true,
	"check_client_ns_access": true, "check_helo_ns_access": true, "check_sender_ns_access": true,
	"check_recipient_ns_access": true, "check_ccert_access": true, "check_sasl_access": true,
	"permit_dnswl_client": true, "permit_rhswl_client": true,
}

// recipient returns the recipient of this check, "" outside RCPT.
func (e *evaluation) recipient() string {
	if e.stage == StageRcpt {
		return e.s.Recipient
	}
	return ""
}

// sender returns the sender and whether there is a transaction.
func (e *evaluation) sender() (string, bool) {
	switch e.stage {
	case StageMail, StageRcpt, StageData, StageEndOfData:
		return e.s.Sender, true
	}
	return e.s.Sender, e.s.Sender != ""
}

// restriction applies one restriction. name is lower-cased, orig as
// written, arg the table or zone of restrictions that take one.
func (e *evaluation) restriction(name, orig, arg string, lc listCtx) status {
	c, s := e.c, e.s
	switch name {
	case "permit":
		return stOK
	case "reject":
		return e.reject(lc, reply{c.codes["reject_code"], "5.7.1", fmt.Sprintf("<%s>: %s rejected: Access denied", lc.name, lc.class)})
	case "defer":
		return e.reject(lc, reply{c.codes["defer_code"], "4.7.1", fmt.Sprintf("<%s>: %s rejected: Access denied", lc.name, lc.class)})
	case "defer_if_permit":
		return e.deferIfPermit(lc, reply{c.codes["defer_code"], "4.7.1", fmt.Sprintf("<%s>: %s rejected: defer_if_permit requested", lc.name, lc.class)})
	case "defer_if_reject":
		return e.deferIfReject(lc, reply{c.codes["defer_code"], "4.7.1", fmt.Sprintf("<%s>: %s rejected: defer_if_reject requested", lc.name, lc.class)})
	case "permit_mynetworks":
		ok, err := c.mynetworks.match(s.ClientAddr, s.ClientName)
		if err != nil {
			return e.tempLookup(namaddr(s), err)
		}
		if ok {
			return stOK
		}
		return stDunno
	case "permit_sasl_authenticated":
		if s.SASLUser != "" {
			return stOK
		}
		return stDunno
	case "reject_plaintext_session":
		if !s.TLS {
			return e.reject(lc, reply{c.codes["plaintext_reject_code"], "4.7.1", "Session encryption is required"})
		}
		return stDunno
	case "reject_unauth_pipelining":
		e.dynamic = true
		if s.Pipelined {
			return e.reject(lc, reply{503, "5.5.0", fmt.Sprintf("<%s>: %s rejected: Improper use of SMTP command pipelining", lc.name, lc.class)})
		}
		return stDunno
	case "reject_multi_recipient_bounce":
		e.dynamic = true
		snd, ok := e.sender()
		limit := 1
		if e.stage == StageRcpt {
			limit = 0
		}
		if ok && snd == "" && s.RecipientCount > limit {
			return e.reject(lc, reply{c.codes["multi_recipient_bounce_reject_code"], "5.5.3", fmt.Sprintf("<%s>: %s rejected: Multi-recipient bounce", snd, lc.class)})
		}
		return stDunno
	case "reject_unauth_destination", "check_relay_domains":
		return e.unauthDestination(lc, c.codes["relay_domains_reject_code"], "5.7.1", false)
	case "defer_unauth_destination":
		return e.unauthDestination(lc, c.codes["relay_domains_reject_code"]-100, "4.7.1", false)
	case "permit_auth_destination":
		return e.unauthDestination(lc, 0, "", true)
	case "reject_unlisted_recipient", "check_recipient_maps":
		rcpt := e.recipient()
		if rcpt == "" {
			return stDunno
		}
		e.dynamic = true
		e.rcptChecked = true
		return e.checkRcptMaps(listCtx{rcpt, classRcpt, "recipient"}, rcpt, false)
	case "reject_unlisted_sender":
		snd, ok := e.sender()
		if !ok || snd == "" {
			return stDunno
		}
		return e.checkRcptMaps(listCtx{snd, classSender, "sender"}, snd, true)
	case "reject_non_fqdn_helo_hostname", "reject_non_fqdn_hostname":
		if s.Helo == "" || strings.HasPrefix(s.Helo, "[") {
			return stDunno
		}
		h := strings.TrimSuffix(s.Helo, ".")
		if !validHostname(h) || !strings.Contains(h, ".") {
			return e.reject(listCtx{s.Helo, classHelo, ""}, reply{c.codes["non_fqdn_reject_code"], "5.5.2", fmt.Sprintf("<%s>: %s rejected: need fully-qualified hostname", s.Helo, classHelo)})
		}
		return stDunno
	case "reject_invalid_helo_hostname", "reject_invalid_hostname":
		if s.Helo == "" {
			return stDunno
		}
		if !validHeloName(s.Helo) {
			return e.reject(listCtx{s.Helo, classHelo, ""}, reply{c.codes["invalid_hostname_reject_code"], "5.5.2", fmt.Sprintf("<%s>: %s rejected: Invalid name", s.Helo, classHelo)})
		}
		return stDunno
	case "reject_unknown_helo_hostname", "reject_unknown_hostname":
		return e.unknownHelo()
	case "reject_non_fqdn_sender":
		snd, ok := e.sender()
		if !ok || snd == "" {
			return stDunno
		}
		return e.nonFQDNAddress(listCtx{snd, classSender, ""}, snd)
	case "reject_non_fqdn_recipient":
		rcpt := e.recipient()
		if rcpt == "" {
			return stDunno
		}
		e.dynamic = true
		return e.nonFQDNAddress(listCtx{rcpt, classRcpt, ""}, rcpt)
	case "reject_unknown_sender_domain":
		snd, ok := e.sender()
		if !ok || snd == "" {
			return stDunno
		}
		return e.unknownAddress(listCtx{snd, classSender, ""}, snd)
	case "reject_unknown_recipient_domain":
		rcpt := e.recipient()
		if rcpt == "" {
			return stDunno
		}
		e.dynamic = true
		return e.unknownAddress(listCtx{rcpt, classRcpt, ""}, rcpt)
	case "reject_unknown_client_hostname", "reject_unknown_client":
		if s.ClientName == "" || strings.EqualFold(s.ClientName, "unknown") {
			return e.reject(listCtx{namaddr(s), classClient, ""}, reply{c.codes["unknown_client_reject_code"], "4.7.25",
				fmt.Sprintf("Client host rejected: cannot find your hostname, [%s]", s.ClientAddr.Unmap())})
		}
		return stDunno
	case "reject_unknown_reverse_client_hostname":
		if s.ReverseClientName == "" || strings.EqualFold(s.ReverseClientName, "unknown") {
			return e.reject(listCtx{namaddr(s), classClient, ""}, reply{c.codes["unknown_client_reject_code"], "4.7.1",
				fmt.Sprintf("Client host rejected: cannot find your reverse hostname, [%s]", s.ClientAddr.Unmap())})
		}
		return stDunno
	case "reject_rbl_client", "reject_rbl":
		if !s.ClientAddr.IsValid() {
			return stDunno
		}
		return e.rbl(lc, arg, dnsbl.ReverseName(s.ClientAddr, zoneOf(arg)), classClient, s.ClientAddr.Unmap().String())
	case "reject_rhsbl_client":
		return e.rhsbl(lc, arg, s.ClientName, classClient)
	case "reject_rhsbl_reverse_client":
		return e.rhsbl(lc, arg, s.ReverseClientName, "Unverified Client host")
	case "reject_rhsbl_helo":
		return e.rhsbl(lc, arg, s.Helo, classHelo)
	case "reject_rhsbl_sender":
		snd, ok := e.sender()
		if !ok {
			return stDunno
		}
		return e.rhsbl(lc, arg, domainOf(snd), classSender)
	case "reject_rhsbl_recipient":
		e.dynamic = true
		return e.rhsbl(lc, arg, domainOf(e.recipient()), classRcpt)
	case "check_client_access":
		return e.clientAccess(arg, lc, s.ClientName)
	case "check_reverse_client_hostname_access":
		return e.clientAccess(arg, lc, s.ReverseClientName)
	case "check_helo_access":
		if s.Helo == "" {
			return stDunno
		}
		return e.domainAccess(arg, lc, s.Helo, listCtx{s.Helo, classHelo, ""})
	case "check_sender_access":
		snd, ok := e.sender()
		if !ok {
			return stDunno
		}
		return e.mailAccess(arg, lc, snd, listCtx{snd, classSender, ""})
	case "check_recipient_access":
		rcpt := e.recipient()
		e.dynamic = true
		if rcpt == "" {
			return stDunno
		}
		return e.mailAccess(arg, lc, rcpt, listCtx{rcpt, classRcpt, ""})
	case "check_etrn_access":
		if s.ETRNDomain == "" || e.stage != StageETRN {
			return stDunno
		}
		return e.domainAccess(arg, lc, s.ETRNDomain, listCtx{s.ETRNDomain, classETRN, ""})
	case "check_policy_service":
		c.warnf("check_policy_service is not supported by postern")
		e.rej = &reply{451, "4.3.5", "Server configuration problem"}
		return stReject
	case "sleep":
		return stDunno
	}
	if notImplemented[name] {
		c.warnf("restriction %s is not implemented: ignoring it", orig)
		return stDunno
	}
	if cl, ok := c.classes[orig]; ok {
		e.dynamic = true
		return e.run(cl, lc)
	}
	if strings.Contains(orig, ":") {
		switch lc.access {
		case "client":
			return e.restriction("check_client_access", "check_client_access", orig, lc)
		case "helo":
			return e.restriction("check_helo_access", "check_helo_access", orig, lc)
		case "sender":
			return e.restriction("check_sender_access", "check_sender_access", orig, lc)
		case "recipient":
			return e.restriction("check_recipient_access", "check_recipient_access", orig, lc)
		case "etrn":
			return e.restriction("check_etrn_access", "check_etrn_access", orig, lc)
		}
	}
	c.warnf("unknown smtpd restriction: \"%s\"", orig)
	return e.serverError()
}

// unauthDestination is reject_unauth_destination (code > 0) and
// permit_auth_destination (permit).
func (e *evaluation) unauthDestination(lc listCtx, code int, dsn string, permit bool) status {
	rcpt := e.recipient()
	if rcpt == "" {
		return stDunno
	}
	e.dynamic = true
	snd, _ := e.sender()
	res, err := e.c.resolver.Resolve(e.ctx, snd, rcpt)
	if err == nil && res.Flags&flagFail != 0 {
		err = fmt.Errorf("trivial-rewrite lookup failure")
	}
	if err != nil {
		e.c.warnf("resolve %s: %v", rcpt, err)
		return e.tempLookup(rcpt, err)
	}
	if authDestination(res, e.c.allowUntrustedRouting()) {
		if permit {
			return stOK
		}
		return stDunno
	}
	if permit {
		return stDunno
	}
	return e.reject(listCtx{rcpt, classRcpt, ""}, reply{code, dsn, fmt.Sprintf("<%s>: Relay access denied", rcpt)})
}

func (c *Checker) allowUntrustedRouting() bool {
	v, _ := c.cfg.Bool("allow_untrusted_routing")
	return v
}

// authDestination reports whether mail to the resolved recipient needs no
// relay permission: final delivery here (local, virtual alias, virtual
// mailbox) or a relay_domains destination, unless sender-specified routing
// is involved.
func authDestination(res Resolution, allowRouting bool) bool {
	if !strings.Contains(res.Recipient, "@") {
		return true
	}
	if !allowRouting && res.Flags&flagRouted != 0 {
		return false
	}
	return res.Flags&(classFinal|classRelay) != 0
}

// nonFQDNAddress is reject_non_fqdn_sender/recipient.
func (e *evaluation) nonFQDNAddress(lc listCtx, addr string) status {
	at := strings.LastIndexByte(addr, '@')
	if at >= 0 {
		dom := addr[at+1:]
		if strings.HasPrefix(dom, "[") {
			return stDunno
		}
		dom = strings.TrimSuffix(dom, ".")
		if validHostname(dom) && strings.Contains(dom, ".") {
			return stDunno
		}
	}
	return e.reject(lc, reply{e.c.codes["non_fqdn_reject_code"], "5.5.2", fmt.Sprintf("<%s>: %s rejected: need fully-qualified address", addr, lc.class)})
}

// unknownAddress is reject_unknown_sender_domain and
// reject_unknown_recipient_domain: the domain must have MX or address
// records, unless mail to it is delivered here.
func (e *evaluation) unknownAddress(lc listCtx, addr string) status {
	snd, _ := e.sender()
	res, err := e.c.resolver.Resolve(e.ctx, snd, addr)
	if err != nil || res.Flags&flagFail != 0 {
		return e.tempLookup(addr, fmt.Errorf("resolve failure"))
	}
	if res.Flags&classFinal != 0 {
		return stDunno
	}
	dom := domainOf(res.Recipient)
	if dom == "" || strings.HasPrefix(dom, "[") {
		return stDunno
	}
	dom = strings.TrimSuffix(dom, ".")
	isSender := lc.class == classSender
	dsn := "4.1.2"
	if isSender {
		dsn = "4.1.8"
	}
	st, nullMX := e.c.dns.MailHost(e.ctx, dom)
	switch {
	case st == dnsbl.Found && nullMX:
		if isSender {
			return e.reject(lc, reply{550, "5.7.27", fmt.Sprintf("<%s>: %s rejected: Domain %s does not accept mail (nullMX)", addr, lc.class, dom)})
		}
		return e.reject(lc, reply{556, "5.1.10", fmt.Sprintf("<%s>: %s rejected: Domain %s does not accept mail (nullMX)", addr, lc.class, dom)})
	case st == dnsbl.Found:
		return stDunno
	case st == dnsbl.NotFound:
		return e.reject(lc, reply{e.c.codes["unknown_address_reject_code"], dsn, fmt.Sprintf("<%s>: %s rejected: Domain not found", addr, lc.class)})
	}
	return e.tempfail(e.c.unknownAddrTempfail, lc, reply{450, dsn, fmt.Sprintf("<%s>: %s rejected: Domain not found", addr, lc.class)})
}

// unknownHelo is reject_unknown_helo_hostname.
func (e *evaluation) unknownHelo() status {
	h := e.s.Helo
	if h == "" || strings.HasPrefix(h, "[") {
		return stDunno
	}
	lc := listCtx{h, classHelo, ""}
	text := fmt.Sprintf("<%s>: %s rejected: Host not found", h, classHelo)
	st, _ := e.c.dns.MailHost(e.ctx, strings.TrimSuffix(h, "."))
	switch st {
	case dnsbl.Found:
		return stDunno
	case dnsbl.NotFound:
		return e.reject(lc, reply{e.c.codes["unknown_hostname_reject_code"], "4.7.1", text})
	}
	return e.tempfail(e.c.unknownHeloTempfail, lc, reply{450, "4.7.1", text})
}

// tempfail applies an *_tempfail_action to a temporary DNS failure.
func (e *evaluation) tempfail(action string, lc listCtx, r reply) status {
	switch strings.ToLower(action) {
	case "defer":
		return e.reject(lc, r)
	case "defer_if_reject":
		return e.deferIfReject(lc, r)
	}
	return e.deferIfPermit(lc, r)
}

func domainOf(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return addr[at+1:]
}

func zoneOf(arg string) string {
	z, _, _ := strings.Cut(arg, "=")
	return z
}

// rhsbl looks domain up under the zone of a reject_rhsbl_* restriction.
func (e *evaluation) rhsbl(lc listCtx, arg, domain, class string) status {
	domain = strings.TrimSuffix(domain, ".")
	if domain == "" || strings.EqualFold(domain, "unknown") || strings.HasPrefix(domain, "[") {
		return stDunno
	}
	return e.rbl(lc, arg, domain+"."+zoneOf(arg), class, domain)
}

// rbl queries a DNSBL and rejects with the rbl_reply_maps or
// default_rbl_reply text when it lists the name.
func (e *evaluation) rbl(lc listCtx, arg, query, class, what string) status {
	zone, filt, hasFilter := strings.Cut(arg, "=")
	var f *dnsbl.Filter
	if hasFilter {
		var err error
		if f, err = dnsbl.ParseFilter(filt); err != nil {
			e.c.warnf("%v", err)
			return e.serverError()
		}
	}
	l, listed := e.c.dns.Check(e.ctx, query, f)
	if !listed {
		return stDunno
	}
	tmpl := e.c.rblTemplate
	for _, t := range e.c.rblReplyMaps {
		for _, k := range []string{strings.ToLower(arg), strings.ToLower(zone)} {
			v, found, err := t.Lookup(k)
			if err != nil {
				return e.tempLookup(what, err)
			}
			if found {
				tmpl = v
				goto expand
			}
		}
	}
expand:
	snd, _ := e.sender()
	vars := map[string]string{
		"rbl_code":            fmt.Sprint(e.c.codes["maps_rbl_reject_code"]),
		"rbl_domain":          zone,
		"rbl_reason":          l.Reason,
		"rbl_txt":             l.Reason,
		"rbl_class":           class,
		"rbl_what":            what,
		"client":              namaddr(e.s),
		"client_address":      e.s.ClientAddr.Unmap().String(),
		"client_name":         clientName(e.s),
		"reverse_client_name": e.s.ReverseClientName,
		"helo_name":           e.s.Helo,
		"sender":              snd,
		"recipient":           e.recipient(),
	}
	if len(l.Addrs) > 0 {
		vars["rbl_address"] = l.Addrs[0].String()
	}
	text := expandTemplate(tmpl, vars)
	r := parseReply(text, e.c.codes["maps_rbl_reject_code"], "5.7.1")
	return e.reject(lc, r)
}

// parseReply splits "NNN [D.S.N] text" (code and DSN optional).
func parseReply(text string, defCode int, defDSN string) reply {
	r := reply{code: defCode, dsn: defDSN, text: text}
	if len(text) >= 3 && (text[0] == '4' || text[0] == '5') && isDigit(text[1]) && isDigit(text[2]) &&
		(len(text) == 3 || text[3] == ' ' || text[3] == '\t') {
		r.code = int(text[0]-'0')*100 + int(text[1]-'0')*10 + int(text[2]-'0')
		r.text = strings.TrimLeft(text[3:], " \t")
		r.dsn = string(text[0]) + defDSN[1:]
	}
	if d, rest, ok := splitDSN(r.text); ok {
		r.dsn, r.text = d, rest
	}
	return r
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// splitDSN takes a leading "D.S.N " off text.
func splitDSN(text string) (dsn, rest string, ok bool) {
	word, rest, _ := strings.Cut(text, " ")
	if !validDSN(word) {
		return "", text, false
	}
	return word, strings.TrimLeft(rest, " \t"), true
}

func validDSN(s string) bool {
	p := strings.Split(s, ".")
	if len(p) != 3 || (p[0] != "2" && p[0] != "4" && p[0] != "5") {
		return false
	}
	for _, x := range p[1:] {
		if len(x) < 1 || len(x) > 3 {
			return false
		}
		for i := 0; i < len(x); i++ {
			if !isDigit(x[i]) {
				return false
			}
		}
	}
	return true
}

// expandTemplate expands $name, ${name}, ${name?text}, ${name:text} and
// $$ in an RBL reply template.
func expandTemplate(t string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		ch := t[i]
		if ch != '$' || i+1 >= len(t) {
			b.WriteByte(ch)
			continue
		}
		i++
		switch {
		case t[i] == '$':
			b.WriteByte('$')
		case t[i] == '{' || t[i] == '(':
			closer := byte('}')
			if t[i] == '(' {
				closer = ')'
			}
			depth, j := 1, i+1
			for ; j < len(t); j++ {
				if t[j] == t[i] {
					depth++
				} else if t[j] == closer {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if j >= len(t) {
				b.WriteString(t[i-1:])
				return b.String()
			}
			inner := t[i+1 : j]
			i = j
			name, alt := inner, ""
			op := byte(0)
			if k := strings.IndexAny(inner, "?:"); k >= 0 {
				name, op, alt = inner[:k], inner[k], inner[k+1:]
			}
			v := vars[name]
			switch op {
			case '?':
				if v != "" {
					b.WriteString(expandTemplate(alt, vars))
				}
			case ':':
				if v == "" {
					b.WriteString(expandTemplate(alt, vars))
				}
			default:
				b.WriteString(v)
			}
		default:
			j := i
			for j < len(t) && (t[j] == '_' || isDigit(t[j]) || t[j] >= 'a' && t[j] <= 'z' || t[j] >= 'A' && t[j] <= 'Z') {
				j++
			}
			if j == i {
				b.WriteByte('$')
				i--
				continue
			}
			b.WriteString(vars[t[i:j]])
			i = j - 1
		}
	}
	return b.String()
}

// validHeloName accepts a valid host name or an address literal.
func validHeloName(h string) bool {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		inner := h[1 : len(h)-1]
		if len(inner) > 5 && strings.EqualFold(inner[:5], "ipv6:") {
			a, err := netip.ParseAddr(inner[5:])
			return err == nil && a.Is6()
		}
		a, err := netip.ParseAddr(inner)
		return err == nil && a.Is4()
	}
	return validHostname(strings.TrimSuffix(h, "."))
}

// validHostname is Postfix's valid_hostname: dot-separated labels of
// letters, digits, "-" and "_", not starting or ending with "-", at most
// 63 characters each and 255 in all, and not all-numeric.
func validHostname(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	nonNumeric := false
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			ch := label[i]
			switch {
			case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch == '_':
				nonNumeric = true
			case isDigit(ch):
			case ch == '-':
				nonNumeric = true
			default:
				return false
			}
		}
	}
	return nonNumeric
}
