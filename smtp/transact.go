package smtp

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"postern/pkg/delivery"
	"postern/pkg/queue"
	pb "postern/proto"
)

// errStale: a cached connection turned out to be closed before the server
// answered anything; the delivery goes on with a new connection.
var errStale = &sessErr{dsn: "4.4.2", text: "stale cached connection"}

// transact runs one mail transaction for the pending recipients on s.
// It finishes recipients with 2xx and 5xx replies, and with 4xx replies
// when final is set (otherwise they stay pending for the next server). It
// returns a session failure, with the recipients still pending, when the
// connection broke.
func (j *job) transact(s *session, final, cached bool) *sessErr {
	st := j.a.Settings
	pend := j.pending()
	if len(pend) == 0 {
		return nil
	}
	env := j.env

	// Message-level checks against what the server announced.
	if s.sizeLimit > 0 && j.size > s.sizeLimit {
		j.talked = true
		text := fmt.Sprintf("message size %d exceeds size limit %d of server %s", j.size, s.sizeLimit, s.namaddr)
		for _, rc := range pend {
			j.finish(rc, &pb.RecipientResult{Status: pb.DeliveryStatus_DELIVERY_BOUNCE, Dsn: "5.3.4", Text: text, Relay: s.relay})
		}
		return nil
	}
	_, utf8OK := s.ext["SMTPUTF8"]
	if env.SMTPUTF8 && !utf8OK && j.needsUTF8(pend) {
		j.talked = true
		text := fmt.Sprintf("SMTPUTF8 is required, but was not offered by host %s", s.namaddr)
		for _, rc := range pend {
			j.finish(rc, &pb.RecipientResult{Status: pb.DeliveryStatus_DELIVERY_BOUNCE, Dsn: "5.6.7", Text: text, Relay: s.relay})
		}
		return nil
	}
	_, pipelining := s.ext["PIPELINING"]
	_, dsnOK := s.ext["DSN"]

	// MAIL FROM.
	var mail strings.Builder
	mail.WriteString("MAIL FROM:<")
	mail.WriteString(delivery.QuoteAddress(env.Sender))
	mail.WriteString(">")
	if _, ok := s.ext["SIZE"]; ok {
		mail.WriteString(" SIZE=" + strconv.FormatInt(j.size, 10))
	}
	if _, ok := s.ext["8BITMIME"]; ok && strings.EqualFold(env.Encoding, "8bit") {
		mail.WriteString(" BODY=8BITMIME")
	}
	if env.SMTPUTF8 && utf8OK {
		mail.WriteString(" SMTPUTF8")
	}
	if dsnOK {
		switch j.req.GetRet() {
		case queue.RetFull:
			mail.WriteString(" RET=FULL")
		case queue.RetHdrs:
			mail.WriteString(" RET=HDRS")
		}
		if e := j.req.GetEnvid(); e != "" {
			mail.WriteString(" ENVID=" + xtext(e))
		}
	}
	s.setXferTimeout(0)
	s.write(mail.String())
	if pipelining {
		// RFC 2920: MAIL, RCPT ... and DATA in one batch.
		for _, rc := range pend {
			s.write(j.rcptCommand(rc, dsnOK))
		}
		s.write("DATA")
	}
	if serr := s.flush(st.MailTimeout, phaseMail); serr != nil {
		return staleOr(serr, cached)
	}
	mr, serr := s.read(st.MailTimeout, phaseMail)
	if serr != nil {
		return staleOr(serr, cached)
	}
	mailOK := mr.Class() == 2
	if !mailOK && !pipelining {
		return j.mailRefused(s, mr, pend, final)
	}

	// RCPT TO, one reply per recipient.
	var accepted []*rcpt
	for _, rc := range pend {
		if !pipelining {
			s.write(j.rcptCommand(rc, dsnOK))
			if serr := s.flush(st.RcptTimeout, phaseRcpt); serr != nil {
				return serr
			}
		}
		rr, serr := s.read(st.RcptTimeout, phaseRcpt)
		if serr != nil {
			return serr
		}
		if !mailOK {
			continue
		}
		switch rr.Class() {
		case 2:
			accepted = append(accepted, rc)
		case 5:
			j.finish(rc, s.replyResult(rr, "RCPT TO"))
		default:
			j.soft(rc, s.replyResult(rr, "RCPT TO"), final)
		}
	}
	j.talked = true

	// DATA.
	var dr *Reply
	if pipelining {
		dr, serr = s.read(st.DataInitTimeout, phaseData)
		if serr != nil {
			return serr
		}
	} else if len(accepted) > 0 {
		dr, serr = s.cmd("DATA", st.DataInitTimeout, phaseData)
		if serr != nil {
			return serr
		}
	}
	if dr != nil && dr.Code == 354 && (!mailOK || len(accepted) == 0) {
		// A pipelining server accepted DATA without a valid recipient:
		// send an empty message and ignore its reply.
		s.write(".")
		if serr := s.flush(st.DataDoneTimeout, phaseDot); serr != nil {
			return serr
		}
		if _, serr := s.read(st.DataDoneTimeout, phaseDot); serr != nil {
			return serr
		}
	}
	if !mailOK {
		return j.mailRefused(s, mr, pend, final)
	}
	if len(accepted) == 0 {
		j.rset(s)
		return nil
	}
	if dr.Code != 354 {
		for _, rc := range accepted {
			if dr.Class() == 5 {
				j.finish(rc, s.replyResult(dr, "DATA"))
			} else {
				j.soft(rc, s.replyResult(dr, "DATA"), final)
			}
		}
		j.rset(s)
		return nil
	}

	// The content, CRLF line ends, dot-stuffed, then ".".
	s.setXferTimeout(st.DataXferTimeout)
	werr, rerr := writeContent(s.bw, j.qf.ContentReader(), st.LineLengthLimit)
	if werr == nil {
		werr = s.bw.Flush()
	}
	s.setXferTimeout(0)
	if werr != nil {
		return s.ioErr(werr, phaseBody)
	}
	if rerr != nil {
		// The queue file cannot be read: the server must not get a
		// truncated message. Drop the connection without ".".
		s.broken = true
		s.close()
		j.a.logger().QWarningf(j.req.GetQueueId(), "read queue file: %v", rerr)
		for _, rc := range accepted {
			j.finish(rc, &pb.RecipientResult{Status: pb.DeliveryStatus_DELIVERY_DEFER, Dsn: "4.3.0", Text: "queue file read error", Relay: s.relay})
		}
		return nil
	}
	s.write(".")
	if serr := s.flush(st.DataDoneTimeout, phaseDot); serr != nil {
		return serr
	}
	n := 1
	if st.LMTP {
		// RFC 2033 section 4.2: one reply per accepted recipient.
		n = len(accepted)
	}
	for i := 0; i < n; i++ {
		er, serr := s.read(st.DataDoneTimeout, phaseDot)
		if serr != nil {
			return serr
		}
		targets := accepted
		if st.LMTP {
			targets = accepted[i : i+1]
		}
		for _, rc := range targets {
			switch er.Class() {
			case 2:
				j.finish(rc, j.sentResult(s, er, dsnOK))
			case 5:
				j.finish(rc, s.replyResult(er, "end of DATA"))
			default:
				j.soft(rc, s.replyResult(er, "end of DATA"), final)
			}
		}
	}
	s.uses++
	return nil
}

// staleOr reports a cached connection that was found dead before its
// first reply as errStale.
func staleOr(serr *sessErr, cached bool) *sessErr {
	if cached {
		return errStale
	}
	return serr
}

// mailRefused handles a refused MAIL FROM: 5xx bounces every recipient
// of the transaction, 4xx defers them (or leaves them to the next server).
func (j *job) mailRefused(s *session, mr *Reply, pend []*rcpt, final bool) *sessErr {
	j.talked = true
	for _, rc := range pend {
		if mr.Class() == 5 {
			j.finish(rc, s.replyResult(mr, "MAIL FROM"))
		} else {
			j.soft(rc, s.replyResult(mr, "MAIL FROM"), final)
		}
	}
	j.rset(s)
	return nil
}

// rset ends a failed transaction so that the connection can be reused.
func (j *job) rset(s *session) {
	if s.broken {
		return
	}
	r, serr := s.cmd("RSET", j.a.Settings.RsetTimeout, phaseRset)
	if serr != nil || r.Class() != 2 {
		s.broken = true
	}
}

// replyResult is the result for a server's refusal of a command.
func (s *session) replyResult(r *Reply, cmd string) *pb.RecipientResult {
	st := pb.DeliveryStatus_DELIVERY_DEFER
	if r.Class() == 5 {
		st = pb.DeliveryStatus_DELIVERY_BOUNCE
	}
	return &pb.RecipientResult{Status: st, Dsn: r.DSN, Text: s.said(r, cmd), DiagType: "smtp", DiagText: r.String(), Relay: s.relay}
}

// sentResult is the result for an accepted recipient: the server's final
// reply is the text ("250 2.0.0 Ok: queued as 4F1A2"). A server that
// offers DSN takes over NOTIFY=SUCCESS, so no local success notice is
// sent; otherwise the recipient was "relayed" (an LMTP server with
// lmtp_assume_final: "delivered").
func (j *job) sentResult(s *session, r *Reply, dsnOK bool) *pb.RecipientResult {
	action := "relayed"
	if j.a.Settings.LMTP && j.a.Settings.AssumeFinal {
		action = "delivered"
	}
	return &pb.RecipientResult{
		Status: pb.DeliveryStatus_DELIVERY_SENT, Dsn: r.DSN, Text: r.String(),
		DiagType: "smtp", DiagText: r.String(), Relay: s.relay, Action: action,
		NoSuccessNotice: dsnOK && action == "relayed",
	}
}

// rcptCommand is "RCPT TO:<addr>" with NOTIFY and ORCPT when the server
// offers DSN; ORCPT is always sent (the stored one verbatim, or the
// original recipient), as Postfix does.
func (j *job) rcptCommand(rc *rcpt, dsnOK bool) string {
	var b strings.Builder
	b.WriteString("RCPT TO:<")
	b.WriteString(delivery.QuoteAddress(rc.r.GetAddress()))
	b.WriteString(">")
	if !dsnOK {
		return b.String()
	}
	if n := rc.r.GetNotify(); n != 0 {
		b.WriteString(" NOTIFY=")
		if n&queue.NotifyNever != 0 {
			b.WriteString("NEVER")
		} else {
			var parts []string
			if n&queue.NotifySuccess != 0 {
				parts = append(parts, "SUCCESS")
			}
			if n&queue.NotifyFailure != 0 {
				parts = append(parts, "FAILURE")
			}
			if n&queue.NotifyDelay != 0 {
				parts = append(parts, "DELAY")
			}
			b.WriteString(strings.Join(parts, ","))
		}
	}
	if o := rc.r.GetOrcpt(); o != "" && strings.Contains(o, ";") {
		b.WriteString(" ORCPT=" + o)
	} else {
		orig := rc.r.GetOriginal()
		if orig == "" {
			orig = rc.r.GetAddress()
		}
		b.WriteString(" ORCPT=rfc822;" + xtext(orig))
	}
	return b.String()
}

// needsUTF8 reports whether the envelope has non-ASCII addresses.
func (j *job) needsUTF8(pend []*rcpt) bool {
	if !isASCII(j.env.Sender) {
		return true
	}
	for _, rc := range pend {
		if !isASCII(rc.r.GetAddress()) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// xtext encodes s as RFC 3461 section 4 xtext.
func xtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '+' || c == '=' {
			fmt.Fprintf(&b, "+%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// writeContent copies the message from the queue file (lines ending in
// LF) to w with CRLF line ends, a "." doubled at the start of a line
// (RFC 5321 section 4.5.2), lines longer than limit broken with CRLF SPACE
// (smtp_line_length_limit), and a final CRLF added when the last line has
// none. werr is an error writing to the server, rerr one reading the file.
func writeContent(w *bufio.Writer, r io.Reader, limit int) (werr, rerr error) {
	buf := make([]byte, 32*1024)
	atStart, col, cr := true, 0, false
	for {
		n, err := r.Read(buf)
		for _, c := range buf[:n] {
			if cr {
				cr = false
				if c != '\n' {
					// A bare CR inside a line is passed on.
					w.WriteByte('\r')
					col++
					atStart = false
				}
			}
			switch c {
			case '\n':
				w.WriteString("\r\n")
				atStart, col = true, 0
				continue
			case '\r':
				cr = true
				continue
			}
			if limit > 0 && col >= limit {
				w.WriteString("\r\n ")
				col, atStart = 1, false
			}
			if atStart && c == '.' {
				w.WriteByte('.')
				col++
			}
			w.WriteByte(c)
			col++
			atStart = false
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if e := w.Flush(); e != nil {
			return e, nil
		}
	}
	if cr {
		w.WriteByte('\r')
		atStart = false
	}
	if !atStart {
		w.WriteString("\r\n")
	}
	return w.Flush(), nil
}
