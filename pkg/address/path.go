package address

import (
	"errors"
	"strings"
)

// ErrPathSyntax is returned by ParsePath for a malformed path.
var ErrPathSyntax = errors.New("bad address syntax")

// ParsePath parses the argument of SMTP MAIL FROM: and RCPT TO: (RFC 5321
// section 4.1.2, "Reverse-path" and "Forward-path") and returns the address
// in internal form. "<>" is the null address "". A source route
// ("<@hop1,@hop2:user@example.org>") is stripped, as Postfix does
// (RFC 5321 section C: receivers must accept and may ignore it).
//
// With strict (strict_rfc821_envelopes = yes) the angle brackets are
// required; without, a bare address is accepted as Postfix does. Blanks
// around the argument are ignored; the caller removes ESMTP parameters
// first.
//
// The local part may be a dot-string, a quoted string, or Postfix's
// tolerated forms (several "@" as in user@host@example.org, "!" and "%"
// paths); it may not hold unquoted blanks, control characters or
// ()<>,;:\"[]. The domain is a name or an address literal "[...]"; its
// syntax is checked later (the resolver flags a bad domain).
func ParsePath(arg string, strict bool) (string, error) {
	s := strings.TrimSpace(arg)
	switch {
	case strings.HasPrefix(s, "<"):
		if !strings.HasSuffix(s, ">") || len(s) < 2 {
			return "", ErrPathSyntax
		}
		s = s[1 : len(s)-1]
	case strict:
		return "", ErrPathSyntax
	}
	if s == "" {
		return "", nil
	}
	// A source route: "@a,@b:" before the mailbox.
	if s[0] == '@' {
		i := strings.IndexByte(s, ':')
		if i < 0 || i == len(s)-1 || !validRoute(s[1:i]) {
			return "", ErrPathSyntax
		}
		s = s[i+1:]
	}
	// Local part up to the last "@" outside quotes.
	at := lastUnquotedAt(s)
	local, domain := s, ""
	if at >= 0 {
		local, domain = s[:at], s[at+1:]
		if domain == "" {
			return "", ErrPathSyntax
		}
	}
	if !validPathLocal(local) || (at >= 0 && !validPathDomain(domain)) {
		return "", ErrPathSyntax
	}
	return Unquote(s), nil
}

// validRoute checks "a,@b,@c" (the route without its first "@" and the
// colon).
func validRoute(r string) bool {
	for i, hop := range strings.Split(r, ",") {
		if i > 0 {
			if !strings.HasPrefix(hop, "@") {
				return false
			}
			hop = hop[1:]
		}
		if hop == "" || !validPathDomain(hop) {
			return false
		}
	}
	return true
}

func validPathLocal(l string) bool {
	if l == "" {
		return false
	}
	quoted := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case quoted:
			switch {
			case c == '\\':
				if i+1 == len(l) {
					return false
				}
				i++
			case c == '"':
				quoted = false
			case c == '\r' || c == '\n' || c == 0:
				return false
			}
		case c == '"':
			quoted = true
		case c == '\\':
			// RFC 821 allowed a quoted pair outside quotes.
			if i+1 == len(l) {
				return false
			}
			i++
		case c <= ' ' || c == 0x7f:
			return false
		case strings.IndexByte("()<>,;:[]", c) >= 0:
			return false
		}
	}
	return !quoted
}

func validPathDomain(d string) bool {
	if d == "" {
		return false
	}
	if d[0] == '[' {
		if len(d) < 3 || d[len(d)-1] != ']' {
			return false
		}
		for i := 1; i < len(d)-1; i++ {
			if c := d[i]; c <= ' ' || c == 0x7f || c == '[' || c == ']' || c == '\\' {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if c <= ' ' || c == 0x7f || strings.IndexByte(specials, c) >= 0 && c != '.' {
			return false
		}
	}
	return true
}

// FormatPath returns the SMTP path form of an internal-form address:
// "<" external form ">", "<>" for the null address.
func FormatPath(addr string) string {
	return "<" + Quote(addr) + ">"
}
