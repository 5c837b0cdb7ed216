// Package address is the mail address syntax every postern program shares:
// splitting an address into local part and domain, the internal (unquoted)
// and external (RFC 5321/5322 quoted) forms, domain case folding, address
// literals, host name checks and the SMTP path parser.
//
// # INTERNAL AND EXTERNAL FORMS
//
// As in Postfix, addresses travel inside the mail system in internal form:
// the local part unquoted, so that "foo bar"@example.org is the string
//
//	foo bar@example.org
//
// The domain is the text after the last "@" (when that "@" is not the last
// character); everything before it is the local part, which may itself
// contain "@" (user@host@example.org has the local part user@host). The
// external form quotes the local part when it is not a dot-atom (Postfix's
// quote_822_local): it contains a space, a control character, one of
// ()<>@,;:\".[] or starts or ends with a dot or has two dots in a row.
// Unquote reverses Quote: Unquote(Quote(a)) == a for every string a.
//
// # CASE
//
// Domains are case-insensitive (FoldDomain lower-cases them, address
// literals included); local parts keep their case (table lookups fold them,
// see postern/pkg/table).
//
// # ADDRESS LITERALS
//
// A domain in square brackets is an address literal: [192.0.2.1] or
// [IPv6:2001:db8::1] (the prefix in any case). ParseLiteral returns the
// address; ValidLiteral checks the syntax as Postfix's valid_mailhost_literal.
package address

import (
	"net/netip"
	"strings"
)

// Split splits an internal-form address at its last "@". hasDomain is false
// when there is no "@" or when the "@" is the last character: then local is
// the whole address and domain is empty.
func Split(addr string) (local, domain string, hasDomain bool) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 || i == len(addr)-1 {
		return addr, "", false
	}
	return addr[:i], addr[i+1:], true
}

// Local returns the local part of an internal-form address.
func Local(addr string) string {
	l, _, _ := Split(addr)
	return l
}

// Domain returns the domain of an internal-form address, "" when it has
// none.
func Domain(addr string) string {
	_, d, _ := Split(addr)
	return d
}

// Join builds an internal-form address; an empty domain gives the local
// part alone.
func Join(local, domain string) string {
	if domain == "" {
		return local
	}
	return local + "@" + domain
}

// FoldDomain lower-cases a domain (or address literal).
func FoldDomain(domain string) string {
	for i := 0; i < len(domain); i++ {
		c := domain[i]
		if c >= 'A' && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(domain)
		}
	}
	return domain
}

// FoldAddress returns addr with its domain lower-cased and its local part
// unchanged.
func FoldAddress(addr string) string {
	l, d, ok := Split(addr)
	if !ok {
		return addr
	}
	return l + "@" + FoldDomain(d)
}

// specials are the RFC 822 specials that force a local part into quotes.
const specials = "()<>@,;:\\\".[]"

// NeedsQuote reports whether a local part must be quoted in external form:
// it is not a sequence of atoms separated by single dots (Postfix's
// is_822_dot_string; 8-bit characters are allowed, as with SMTPUTF8).
func NeedsQuote(local string) bool {
	if local == "" || local[0] == '.' || local[len(local)-1] == '.' {
		return true
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case c == '.':
			if i+1 < len(local) && local[i+1] == '.' {
				return true
			}
		case c == ' ' || c < 0x20 || c == 0x7f:
			return true
		case strings.IndexByte(specials, c) >= 0:
			return true
		}
	}
	return false
}

// QuoteLocal returns the external form of a local part: itself, or a quoted
// string with '"' and '\' escaped by a backslash.
func QuoteLocal(local string) string {
	if !NeedsQuote(local) {
		return local
	}
	var b strings.Builder
	b.Grow(len(local) + 2)
	b.WriteByte('"')
	for i := 0; i < len(local); i++ {
		if c := local[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(local[i])
	}
	b.WriteByte('"')
	return b.String()
}

// Quote converts an internal-form address to external form (Postfix's
// quote_822_local). The empty address stays empty.
func Quote(addr string) string {
	if addr == "" {
		return ""
	}
	l, d, ok := Split(addr)
	if !ok {
		return QuoteLocal(addr)
	}
	return QuoteLocal(l) + "@" + d
}

// lastUnquotedAt returns the index of the last "@" outside a quoted string
// (and not backslash-escaped), or -1.
func lastUnquotedAt(s string) int {
	at, quoted := -1, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == '@' && !quoted:
			at = i
		}
	}
	return at
}

// UnquoteLocal removes the quotes and backslash escapes of an external-form
// local part.
func UnquoteLocal(local string) string {
	if strings.IndexByte(local, '"') < 0 && strings.IndexByte(local, '\\') < 0 {
		return local
	}
	var b strings.Builder
	b.Grow(len(local))
	quoted := false
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case c == '\\' && i+1 < len(local):
			i++
			b.WriteByte(local[i])
		case c == '"':
			quoted = !quoted
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Unquote converts an external-form address to internal form: the local
// part (everything before the last "@" outside quotes) loses its quotes and
// escapes; the domain is kept as is.
func Unquote(addr string) string {
	at := lastUnquotedAt(addr)
	if at < 0 {
		return UnquoteLocal(addr)
	}
	return UnquoteLocal(addr[:at]) + addr[at:]
}

// SplitExtension splits an address extension off a local part, as
// Postfix's split_addr: the local part is cut at the first character that
// is in delims (recipient_delimiter; each character is a delimiter). It is
// not split when delims is empty, when the local part is postmaster,
// MAILER-DAEMON or double-bounce (any case), when the cut would leave an
// empty base, or, with ownerRequestSpecial (owner_request_special) and "-"
// among the delimiters, for owner-* and *-request. ok reports a split; ext
// excludes the delimiter.
func SplitExtension(local, delims string, ownerRequestSpecial bool) (base, ext string, ok bool) {
	if delims == "" {
		return local, "", false
	}
	switch strings.ToLower(local) {
	case "postmaster", "mailer-daemon", "double-bounce":
		return local, "", false
	}
	if ownerRequestSpecial && strings.IndexByte(delims, '-') >= 0 {
		ll := strings.ToLower(local)
		if strings.HasPrefix(ll, "owner-") || len(ll) > 8 && strings.HasSuffix(ll, "-request") {
			return local, "", false
		}
	}
	i := strings.IndexAny(local, delims)
	if i <= 0 {
		return local, "", false
	}
	return local[:i], local[i+1:], true
}

// StripExtension returns addr without the address extension of its local
// part (user+ext@example.org -> user@example.org) and whether there was one.
func StripExtension(addr, delims string, ownerRequestSpecial bool) (string, bool) {
	l, d, has := Split(addr)
	base, _, ok := SplitExtension(l, delims, ownerRequestSpecial)
	if !ok {
		return addr, false
	}
	if has {
		return base + "@" + d, true
	}
	return base, true
}

// IsLiteral reports whether a domain is written as an address literal,
// "[...]".
func IsLiteral(domain string) bool {
	return len(domain) >= 2 && domain[0] == '[' && domain[len(domain)-1] == ']'
}

// ParseLiteral returns the address of an address literal: [192.0.2.1] or
// [IPv6:2001:db8::1]. ok is false for anything else, including an IPv6
// address without the IPv6: prefix, an IPv4 address with the prefix and a
// zone.
func ParseLiteral(domain string) (netip.Addr, bool) {
	if !IsLiteral(domain) {
		return netip.Addr{}, false
	}
	inner := domain[1 : len(domain)-1]
	if len(inner) >= 5 && strings.EqualFold(inner[:5], "ipv6:") {
		a, err := netip.ParseAddr(inner[5:])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return netip.Addr{}, false
		}
		return a, true
	}
	a, err := netip.ParseAddr(inner)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

// ValidLiteral reports whether domain is a well-formed address literal
// (Postfix's valid_mailhost_literal).
func ValidLiteral(domain string) bool {
	_, ok := ParseLiteral(domain)
	return ok
}

// Literal returns the address literal of ip: [192.0.2.1] or
// [IPv6:2001:db8::1].
func Literal(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is4() {
		return "[" + ip.String() + "]"
	}
	return "[IPv6:" + ip.String() + "]"
}

// ValidHostAddr reports whether s is a bare IPv4 or IPv6 address (Postfix's
// valid_hostaddr), without brackets or prefix.
func ValidHostAddr(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}

// MaxHostnameLen and MaxLabelLen are Postfix's limits (VALID_HOSTNAME_LEN,
// VALID_LABEL_LEN).
const (
	MaxHostnameLen = 255
	MaxLabelLen    = 63
)

// ValidHostname reports whether name is a syntactically valid host name, as
// Postfix's valid_hostname (and valid_utf8_hostname for non-ASCII names):
// dot-separated labels of letters, digits, "-" and "_" (and 8-bit
// characters), no label empty, longer than 63 or starting or ending with
// "-", at most 255 characters, and not all-numeric (1.2.3.4 is an address,
// not a name). A trailing dot is not allowed.
func ValidHostname(name string) bool {
	if name == "" || len(name) > MaxHostnameLen {
		return false
	}
	label, nonNumeric := 0, false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80:
			nonNumeric = true
			label++
		case c >= '0' && c <= '9':
			label++
		case c == '-':
			if label == 0 || i+1 == len(name) || name[i+1] == '.' {
				return false
			}
			nonNumeric = true
			label++
		case c == '.':
			if label == 0 || i+1 == len(name) {
				return false
			}
			label = 0
			continue
		default:
			return false
		}
		if label > MaxLabelLen {
			return false
		}
	}
	return nonNumeric
}

// IsFQDN reports whether a domain passes smtpd's reject_non_fqdn_* checks:
// an address literal (any "[...]"), or, after one trailing dot is removed,
// a valid host name that contains a dot.
func IsFQDN(domain string) bool {
	if IsLiteral(domain) {
		return true
	}
	domain = strings.TrimSuffix(domain, ".")
	return ValidHostname(domain) && strings.IndexByte(domain, '.') >= 0
}
