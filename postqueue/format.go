package postqueue

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"postern/pkg/address"
	pb "postern/proto"
)

type formatter interface {
	entry(e *pb.QueueEntry) error
	end()
}

// textFormatter writes postqueue -p: Postfix's showq layout.
type textFormatter struct {
	w     io.Writer
	long  bool
	n     int   // messages listed
	bytes int64 // their sizes
	err   error
}

func (f *textFormatter) printf(format string, a ...any) {
	if f.err == nil {
		_, f.err = fmt.Fprintf(f.w, format, a...)
	}
}

// asctime is C's asctime(3) without the newline, in local time.
func asctime(t time.Time) string { return t.Format("Mon Jan _2 15:04:05 2006") }

func (f *textFormatter) entry(e *pb.QueueEntry) error {
	if f.n == 0 {
		if f.long {
			f.printf("----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------\n")
		} else {
			f.printf("-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n")
		}
	} else {
		f.printf("\n")
	}
	f.n++
	f.bytes += e.MessageSize
	id := e.QueueId
	switch e.QueueName {
	case "active":
		id += "*"
	case "hold":
		id += "!"
	}
	if e.ForcedExpire {
		id += "#"
	}
	sender := "MAILER-DAEMON"
	if e.Sender != "" {
		sender = address.Quote(e.Sender)
	}
	at := asctime(time.Unix(e.ArrivalTime, 0))
	indent := 41
	if f.long {
		f.printf("%-17s %8d %19.19s %s\n", id, e.MessageSize, at, sender)
		indent = 47
	} else {
		f.printf("%-11s %7d %20.20s %s\n", id, e.MessageSize, at, sender)
	}
	prev := ""
	for _, r := range e.Recipients {
		if r.DelayReason != prev {
			reason := r.DelayReason
			if reason == "" {
				reason = "reason unavailable"
			}
			pad := 76 - len(reason)
			if pad < 0 {
				pad = 0
			}
			f.printf("%s(%s)\n", strings.Repeat(" ", pad), reason)
			prev = r.DelayReason
		}
		f.printf("%s%s\n", strings.Repeat(" ", indent), address.Quote(r.Address))
	}
	return f.err
}

func (f *textFormatter) end() {
	if f.n == 0 {
		f.printf("Mail queue is empty\n")
		return
	}
	s := "s"
	if f.n == 1 {
		s = ""
	}
	f.printf("\n-- %d Kbytes in %d Request%s.\n", f.bytes/1024, f.n, s)
}

// jsonFormatter writes postqueue -j.
type jsonFormatter struct {
	w   io.Writer
	err error
}

func (f *jsonFormatter) entry(e *pb.QueueEntry) error {
	var b strings.Builder
	sender := "MAILER-DAEMON"
	if e.Sender != "" {
		sender = address.Quote(e.Sender)
	}
	fmt.Fprintf(&b, `{"queue_name": %s, "queue_id": %s, "arrival_time": %d, "message_size": %d, "forced_expire": %t, "sender": %s, "recipients": [`,
		jsonString(e.QueueName), jsonString(e.QueueId), e.ArrivalTime, e.MessageSize, e.ForcedExpire, jsonString(sender))
	for i, r := range e.Recipients {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `{"address": %s`, jsonString(address.Quote(r.Address)))
		if r.DelayReason != "" {
			fmt.Fprintf(&b, `, "delay_reason": %s`, jsonString(r.DelayReason))
		}
		b.WriteString("}")
	}
	b.WriteString("]}\n")
	if f.err == nil {
		_, f.err = io.WriteString(f.w, b.String())
	}
	return f.err
}

func (f *jsonFormatter) end() {}

// jsonString quotes s as Postfix's JSON writer does: backslash before `"`
// and `\`, the short escapes for control characters and \u00XX for the
// rest, UTF-8 passed through raw.
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, c)
		case c >= 0x80:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteString(s[i : i+n])
			}
			i += n
			continue
		default:
			b.WriteByte(c)
		}
		i++
	}
	b.WriteByte('"')
	return b.String()
}
