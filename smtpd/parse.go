package smtpd

import (
	"errors"
	"strings"

	"postern/pkg/address"
)

// splitCommand splits a command line into the verb (upper case) and the
// rest, with the blanks between them removed.
func splitCommand(line string) (verb, arg string) {
	line = strings.TrimLeft(line, " \t")
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return strings.ToUpper(line), ""
	}
	return strings.ToUpper(line[:i]), strings.TrimLeft(line[i+1:], " \t")
}

// param is one ESMTP parameter of MAIL or RCPT.
type param struct {
	Key   string // upper case
	Value string // as sent; HasValue says whether "=" was there
	Has   bool
}

func (p param) String() string {
	if p.Has {
		return p.Key + "=" + p.Value
	}
	return p.Key
}

var (
	errNoKeyword = errors.New("missing FROM or TO keyword")
	errPath      = errors.New("bad address syntax")
)

// parsePathArg parses the argument of MAIL ("FROM:") or RCPT ("TO:"): the
// keyword, the path and the ESMTP parameters. The address comes back in
// internal form ("" for <>). A path in angle brackets may contain quoted
// blanks; without brackets (accepted unless strict) it is one word.
func parsePathArg(arg, keyword string, strict bool) (addr, raw string, params []param, err error) {
	if len(arg) < len(keyword) || !strings.EqualFold(arg[:len(keyword)], keyword) {
		return "", "", nil, errNoKeyword
	}
	rest := strings.TrimLeft(arg[len(keyword):], " \t")
	var path string
	if strings.HasPrefix(rest, "<") {
		end := -1
		quoted := false
		for i := 1; i < len(rest); i++ {
			c := rest[i]
			switch {
			case c == '\\' && quoted && i+1 < len(rest):
				i++
			case c == '"':
				quoted = !quoted
			case c == '>' && !quoted:
				end = i
			}
			if end >= 0 {
				break
			}
		}
		if end < 0 {
			return "", "", nil, errPath
		}
		path, rest = rest[:end+1], rest[end+1:]
		if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			return "", "", nil, errPath
		}
	} else {
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			i = len(rest)
		}
		path, rest = rest[:i], rest[i:]
	}
	addr, err = address.ParsePath(path, strict)
	if err != nil {
		return "", "", nil, errPath
	}
	for _, w := range strings.Fields(rest) {
		k, v, has := strings.Cut(w, "=")
		params = append(params, param{Key: strings.ToUpper(k), Value: v, Has: has})
	}
	return addr, path, params, nil
}

// xtextOK checks RFC 3461 xtext: printable ASCII except "+" and "=",
// and "+XX" hex escapes.
func xtextOK(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		case c < '!' || c > '~' || c == '=':
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F'
}

// DSN NOTIFY bits as in proto/mail.proto.
const (
	notifyNever   = 1
	notifySuccess = 2
	notifyFailure = 4
	notifyDelay   = 8
)

// parseNotify parses NOTIFY=NEVER or a list of SUCCESS, FAILURE, DELAY.
func parseNotify(v string) (uint32, bool) {
	var bits uint32
	for _, w := range strings.Split(v, ",") {
		switch strings.ToUpper(w) {
		case "NEVER":
			bits |= notifyNever
		case "SUCCESS":
			bits |= notifySuccess
		case "FAILURE":
			bits |= notifyFailure
		case "DELAY":
			bits |= notifyDelay
		default:
			return 0, false
		}
	}
	if bits&notifyNever != 0 && bits != notifyNever {
		return 0, false
	}
	return bits, true
}

// parseORCPT checks ORCPT=addr-type;xtext (RFC 3461 section 4.2).
func parseORCPT(v string) bool {
	t, x, ok := strings.Cut(v, ";")
	if !ok || t == "" || x == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return xtextOK(x) || strings.EqualFold(t, "utf-8")
}

// printable replaces control characters as Postfix's printable() does
// for text that goes into logs and headers.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r == 0xfffd }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == 0xfffd {
			return '?'
		}
		return r
	}, s)
}
