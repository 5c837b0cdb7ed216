package smtp

import (
	"bufio"
	"errors"
	"strings"
)

// Reply is one SMTP or LMTP server reply, possibly of several lines
// (RFC 5321 section 4.2).
type Reply struct {
	Code int // 250
	// Lines are the reply lines as received, code included
	// ("250-mx.example.org", "250 SIZE 10240000"), without CRLF.
	Lines []string
	// DSN is the RFC 3463 enhanced status code of the first line, or
	// one derived from Code (2.0.0, 4.0.0, 5.0.0) when the server gave
	// none, with its class always that of Code, as Postfix does.
	DSN string
}

// String is the reply as Postfix shows it in logs and delivery status
// notices: the lines joined with a space ("550-5.1.1 a 550 5.1.1 b").
func (r *Reply) String() string { return strings.Join(r.Lines, " ") }

// Class is the first digit of the code: 2, 3, 4 or 5.
func (r *Reply) Class() int { return r.Code / 100 }

// Text is the text of the reply lines without their codes, one per line
// (for EHLO keyword parsing).
func (r *Reply) Text() []string {
	t := make([]string, len(r.Lines))
	for i, l := range r.Lines {
		if len(l) > 4 {
			t[i] = l[4:]
		}
	}
	return t
}

// errMalformed is returned for a reply line that is not "DDD[ -]text".
var errMalformed = errors.New("malformed server reply")

// maxReplyLines bounds a multi-line reply (Postfix bounds the text it
// keeps to line_length_limit; a server that sends endless continuation
// lines is cut off).
const (
	maxReplyLines = 200
	maxReplyLine  = 4096
)

// readReply reads one reply. A line that is too long, a reply with too
// many lines, a line without a valid code or with a code that changes
// between lines is errMalformed (Postfix treats such a server as broken:
// "malformed server reply"... here a site failure like a lost connection).
// Bare LF line ends are accepted, as Postfix does.
func readReply(br *bufio.Reader) (*Reply, error) {
	r := &Reply{}
	for {
		line, err := readLine(br)
		if err != nil {
			return nil, err
		}
		code, last, ok := parseReplyLine(line)
		if !ok {
			return nil, errMalformed
		}
		if len(r.Lines) == 0 {
			r.Code = code
		} else if code != r.Code {
			return nil, errMalformed
		}
		r.Lines = append(r.Lines, line)
		if last {
			break
		}
		if len(r.Lines) >= maxReplyLines {
			return nil, errMalformed
		}
	}
	r.DSN = replyDSN(r.Code, r.Lines[0])
	return r, nil
}

// readLine reads a line ending in LF (CR LF or bare LF), without the line
// end, of at most maxReplyLine bytes.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := br.ReadSlice('\n')
		b = append(b, frag...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) && len(b) <= maxReplyLine {
			continue
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", errMalformed
		}
		return "", err
	}
	if len(b) > maxReplyLine+2 {
		return "", errMalformed
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

// ParseReply parses a whole reply given as text (lines ending in CRLF or
// LF). It is readReply for callers and fuzzing that have the bytes.
func ParseReply(s string) (*Reply, error) {
	if !strings.HasSuffix(s, "\n") {
		s += "\r\n"
	}
	return readReply(bufio.NewReader(strings.NewReader(s)))
}

// parseReplyLine checks "DDD" followed by the end, a space or a hyphen;
// last is false for a hyphen (a continuation follows).
func parseReplyLine(l string) (code int, last, ok bool) {
	if len(l) < 3 {
		return 0, false, false
	}
	for i := 0; i < 3; i++ {
		if l[i] < '0' || l[i] > '9' {
			return 0, false, false
		}
	}
	if l[0] < '2' || l[0] > '5' {
		return 0, false, false
	}
	code = int(l[0]-'0')*100 + int(l[1]-'0')*10 + int(l[2]-'0')
	switch {
	case len(l) == 3:
		return code, true, true
	case l[3] == ' ':
		return code, true, true
	case l[3] == '-':
		return code, false, true
	}
	return 0, false, false
}

// replyDSN extracts the enhanced status code from the first line's text
// ("250 2.1.0 Ok") or derives one from the code; the class digit always
// follows the reply code (a "550 4.1.1" reply is a permanent failure with
// status 5.1.1), as Postfix's smtp_chat_resp does.
func replyDSN(code int, first string) string {
	class := byte('0' + code/100)
	if len(first) > 4 {
		t := first[4:]
		if n := dsnLen(t); n > 0 {
			d := []byte(t[:n])
			d[0] = class
			return string(d)
		}
	}
	return string(class) + ".0.0"
}

// dsnLen is the length of an RFC 3463 code "C.SSS.DDD" at the start of s,
// followed by the end or a blank; 0 when there is none.
func dsnLen(s string) int {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return 0
	}
	i := 2
	for part := 0; part < 2; part++ {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i || j-i > 3 {
			return 0
		}
		i = j
		if part == 0 {
			if i >= len(s) || s[i] != '.' {
				return 0
			}
			i++
		}
	}
	if i < len(s) && s[i] != ' ' && s[i] != '\t' {
		return 0
	}
	return i
}
