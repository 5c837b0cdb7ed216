// Package delivery holds what every delivery agent (local, smtp, error,
// discard, virtual ...) shares about reporting a result: the log line
// Postfix's agents write for each recipient,
//
//	QUEUEID: to=<user@example.org>, orig_to=<alias@example.org>, relay=local,
//	    delay=0.03, delays=0.02/0.01/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
//
// (one line), with its fields in Postfix's fixed order so that pflogsumm and
// other log tools read it unchanged, and the delay arithmetic behind
// delay= and delays=.
//
// The times come from the DeliverRequest that qmgr sends: the message's
// arrival, when qmgr moved it into active/, and when qmgr handed the
// request to the agent. Postfix's four delays are:
//
//	a  arrival -> active queue (time before the queue manager)
//	b  active queue -> request handed to the agent (time in the queue manager)
//	c  request -> connection set up (DNS, connect, greeting, HELO, TLS); 0
//	   for agents that make no connection
//	d  connection set up (or request) -> end of this delivery attempt
//
// and delay is arrival -> end. Every number has at most two significant
// digits and at most delay_logging_resolution_limit decimals (see
// FormatDelay).
package delivery

import (
	"math"
	"strconv"
	"strings"
	"time"

	"postern/pkg/log"
	pb "postern/proto"
)

// DefaultResolution is delay_logging_resolution_limit's default: the
// number of decimals a logged delay may have.
const DefaultResolution = 2

// Resolution is the delay_logging_resolution_limit that LogResult uses. An
// agent may set it from main.cf at start-up (0 to 6, as Postfix allows).
var Resolution = DefaultResolution

// Timing is what an agent knows about one attempt beyond the request's
// time stamps. The zero value fits agents that make no connection.
type Timing struct {
	// ConnDone is when the connection (DNS lookup, connect, greeting,
	// HELO, TLS) was set up; zero when no connection was made. It
	// splits delays= "c" from "d".
	ConnDone time.Time
	// ConnUse is how often a cached SMTP connection was used before
	// (conn_use=N is logged when it is above 0).
	ConnUse int
}

// StatusWord returns the word logged after status= for a delivery status:
// "sent", "deferred" or "bounced".
func StatusWord(s pb.DeliveryStatus) string {
	switch s {
	case pb.DeliveryStatus_DELIVERY_SENT:
		return "sent"
	case pb.DeliveryStatus_DELIVERY_BOUNCE:
		return "bounced"
	default:
		return "deferred"
	}
}

// LogResult logs the result of one recipient's delivery with the default
// logger: "QUEUEID: to=<...>, [orig_to=<...>, ]relay=..., delay=...,
// delays=a/b/c/d, dsn=..., status=WORD (text)". now is the end of the
// attempt.
func LogResult(queueID string, req *pb.DeliverRequest, rcpt *pb.DeliverRecipient, res *pb.RecipientResult, now time.Time) {
	log.QInfof(queueID, "%s", Line(req, rcpt, res, Timing{}, now))
}

// LogResultTiming is LogResult with an agent's connection timing, written
// to l (nil: the default logger).
func LogResultTiming(l *log.Logger, queueID string, req *pb.DeliverRequest, rcpt *pb.DeliverRecipient, res *pb.RecipientResult, t Timing, now time.Time) {
	if l == nil {
		l = log.Default()
	}
	l.QInfof(queueID, "%s", Line(req, rcpt, res, t, now))
}

// Line returns the text of the log line (without "QUEUEID: "). Only the
// word of res.Status, res.Dsn, res.Text and res.Relay ("none" when empty)
// are used from res; rcpt gives to= and orig_to=.
func Line(req *pb.DeliverRequest, rcpt *pb.DeliverRecipient, res *pb.RecipientResult, t Timing, now time.Time) string {
	return LineStatus(req, rcpt, res.GetRelay(), res.GetDsn(), StatusWord(res.GetStatus()), res.GetText(), t, now)
}

// LineStatus is Line with the status word given, for the words that are
// not a DeliveryStatus ("expired", "deliverable", "undeliverable").
func LineStatus(req *pb.DeliverRequest, rcpt *pb.DeliverRecipient, relay, dsn, word, text string, t Timing, now time.Time) string {
	var b strings.Builder
	b.Grow(160 + len(text))
	b.WriteString("to=<")
	b.WriteString(QuoteAddress(rcpt.GetAddress()))
	b.WriteString(">, ")
	// Postfix compares case-insensitively: orig_to= appears only when the
	// address was really rewritten, not when only its case differs.
	if o := rcpt.GetOriginal(); o != "" && !strings.EqualFold(o, rcpt.GetAddress()) {
		b.WriteString("orig_to=<")
		b.WriteString(QuoteAddress(o))
		b.WriteString(">, ")
	}
	if relay == "" {
		relay = "none"
	}
	b.WriteString("relay=")
	b.WriteString(relay)
	b.WriteString(", ")
	if t.ConnUse > 0 {
		b.WriteString("conn_use=")
		b.WriteString(strconv.Itoa(t.ConnUse))
		b.WriteString(", ")
	}
	total, a, bb, c, d := Delays(req, t, now)
	b.WriteString("delay=")
	b.WriteString(FormatDelay(total, Resolution))
	b.WriteString(", delays=")
	b.WriteString(FormatDelay(a, Resolution))
	b.WriteByte('/')
	b.WriteString(FormatDelay(bb, Resolution))
	b.WriteByte('/')
	b.WriteString(FormatDelay(c, Resolution))
	b.WriteByte('/')
	b.WriteString(FormatDelay(d, Resolution))
	b.WriteString(", dsn=")
	b.WriteString(dsn)
	b.WriteString(", status=")
	b.WriteString(word)
	b.WriteString(" (")
	b.WriteString(text)
	b.WriteByte(')')
	return b.String()
}

// Delays computes delay= (total) and delays=a/b/c/d from the request's
// time stamps, the agent's timing and the end of the attempt. Time stamps
// that are missing (0) or out of order (a clock step) give 0, never a
// negative delay.
func Delays(req *pb.DeliverRequest, t Timing, now time.Time) (total, a, b, c, d time.Duration) {
	arrival := usTime(req.GetArrivalTimeUs(), now)
	active := usTime(req.GetActiveTimeUs(), arrival)
	request := usTime(req.GetRequestTimeUs(), active)
	total = pos(now.Sub(arrival))
	a = pos(active.Sub(arrival))
	b = pos(request.Sub(active))
	if !t.ConnDone.IsZero() {
		c = pos(t.ConnDone.Sub(request))
		d = pos(now.Sub(t.ConnDone))
	} else {
		d = pos(now.Sub(request))
	}
	return
}

func usTime(us int64, def time.Time) time.Time {
	if us <= 0 {
		return def
	}
	return time.UnixMicro(us)
}

func pos(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}

// FormatDelay formats a delay in seconds as Postfix logs it: rounded to two
// significant digits but never more than res decimals (and no decimals at
// all from 10 seconds up), trailing zeros dropped: 0.03, 0.1, 1.2, 2, 7.5,
// 22, 69, 111, 300. A delay below the resolution prints as 0.
func FormatDelay(d time.Duration, res int) string {
	if res < 0 {
		res = 0
	}
	if res > 6 {
		res = 6
	}
	v := d.Seconds()
	if v <= 0 {
		return "0"
	}
	// Two significant digits: decimals = 1 - floor(log10(v)), i.e. 0 from
	// 10 s up, 1 in [1, 10), 2 in [0.1, 1) and so on.
	dec := 1 - int(math.Floor(math.Log10(v)))
	if dec < 0 {
		dec = 0
	}
	if dec > res {
		dec = res
	}
	s := strconv.FormatFloat(v, 'f', dec, 64)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "" || s == "-0" {
		s = "0"
	}
	return s
}

// QuoteAddress returns an address in the external form Postfix logs: the
// local part is quoted when it is not a dot-atom (RFC 5322 section 3.4.1),
// "a b@example.org" becomes "\"a b\"@example.org". The null address stays
// empty.
func QuoteAddress(addr string) string {
	if addr == "" {
		return ""
	}
	local, domain := addr, ""
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		local, domain = addr[:i], addr[i:]
	}
	if local == "" || isDotAtom(local) || (len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"') {
		return addr
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(local); i++ {
		if local[i] == '"' || local[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(local[i])
	}
	b.WriteByte('"')
	b.WriteString(domain)
	return b.String()
}

func isDotAtom(s string) bool {
	if s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= 0x80:
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Config is what Configure reads; *config.Config satisfies it.
type Config interface {
	Int(name string) (int64, error)
}

// Configure sets Resolution from delay_logging_resolution_limit; agents
// call it once at start-up.
func Configure(c Config) {
	if n, err := c.Int("delay_logging_resolution_limit"); err == nil && n >= 0 && n <= 6 {
		Resolution = int(n)
	}
}

// SplitDSN splits a reason that may begin with an RFC 3463 status code
// ("5.1.1 no such user") into the code and the rest, as Postfix's
// dsn_split does for the error and discard transports' next hop. Without
// a valid code it returns def and the whole text.
func SplitDSN(def, text string) (dsn, rest string) {
	t := strings.TrimLeft(text, " \t")
	n := dsnLen(t)
	if n == 0 {
		return def, text
	}
	return t[:n], strings.TrimLeft(t[n:], " \t")
}

// dsnLen returns the length of a status code "C.SSS.DDD" at the start of s
// (class 2, 4 or 5, subject and detail of 1 to 3 digits), followed by the
// end or a blank; 0 when there is none.
func dsnLen(s string) int {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return 0
	}
	i := 2
	for part := 0; part < 2; part++ {
		j := i
		for j < len(s) && j-i < 4 && s[j] >= '0' && s[j] <= '9' {
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
