package smtpd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"postern/pkg/address"
	"postern/pkg/dotreader"
	"postern/pkg/header"
	"postern/pkg/policy"
	"postern/pkg/submit"
)

// dataSink is where message content goes: it counts the size as Postfix
// does (header and body bytes with CRLF line ends, plus the Received:
// header), stops passing content on beyond message_size_limit, keeps the
// first write error (cleanup's rejection) and treats the first line as
// Postfix's smtpd does. Its Write never fails, so that the rest of the
// message is still read from the client and the reply comes at the end.
type dataSink struct {
	sub    Submission
	got    int64 // bytes from the client (for "lost connection after DATA (N bytes)")
	size   int64
	limit  int64
	tooBig bool
	err    error
	// first line handling
	first     []byte
	firstDone bool
}

const firstLineMax = 1024

func (d *dataSink) Write(p []byte) (int, error) {
	n := len(p)
	d.got += int64(n)
	d.size += int64(n + bytes.Count(p, []byte{'\n'}))
	if d.limit > 0 && d.size > d.limit {
		d.tooBig = true
	}
	if d.tooBig || d.err != nil {
		return n, nil
	}
	if !d.firstDone {
		i := bytes.IndexByte(p, '\n')
		if i < 0 && len(d.first)+len(p) < firstLineMax {
			d.first = append(d.first, p...)
			return n, nil
		}
		cut := len(p)
		if i >= 0 {
			cut = i + 1
		}
		d.first = append(d.first, p[:cut]...)
		p = p[cut:]
		d.flushFirst()
	}
	if len(p) > 0 && d.err == nil {
		_, d.err = d.sub.Write(p)
	}
	return n, nil
}

// flushFirst writes the first line: a leading mbox "From " line (or
// ">From ") becomes an X-Mailbox-Line: header; a first line that starts
// with a blank gets an empty line before it so that it is not taken as a
// continuation of our Received: header (Postfix's smtpd does both).
func (d *dataSink) flushFirst() {
	if d.firstDone {
		return
	}
	d.firstDone = true
	f := d.first
	d.first = nil
	if len(f) == 0 || d.err != nil || d.tooBig {
		return
	}
	switch {
	case bytes.HasPrefix(bytes.TrimLeft(f, ">"), []byte("From ")):
		f = append([]byte("X-Mailbox-Line: "), f...)
	case f[0] == ' ' || f[0] == '\t':
		f = append([]byte("\n"), f...)
	}
	_, d.err = d.sub.Write(f)
}

// receivedHeader is smtpd's Received: header, in Postfix's format:
//
//	Received: from HELO (NAME [ADDR])
//		(using TLSv1.3 with cipher ... (256/256 bits) ...)   smtpd_tls_received_header
//		(Authenticated sender: USER)                           smtpd_sasl_authenticated_header
//		by MYHOSTNAME (MAIL_NAME) with ESMTPSA id QUEUEID
//		for <RCPT>; DATE                                     (one recipient)
//
// with ";\n\tDATE" on the "by" line for several recipients.
func (s *session) receivedHeader() string {
	tx := s.tx
	var b strings.Builder
	from := s.helo
	if from == "" {
		from = s.name
	}
	fmt.Fprintf(&b, "Received: from %s (%s [%s])\n", from, s.name, s.rfcAddr)
	if s.tls != nil && s.srv.TLSReceived {
		b.WriteString(tlsReceivedLines(s.tls))
	}
	if s.saslUser != "" && s.srv.SASLAuthHeader {
		fmt.Fprintf(&b, "\t(Authenticated sender: %s)\n", s.saslUser)
	}
	fmt.Fprintf(&b, "\tby %s (%s) with %s", s.srv.Hostname, s.srv.MailName, s.receivedProto())
	if tx.queueID != "" {
		// (sendmail -bs does not know the maildrop file's ID.)
		fmt.Fprintf(&b, " id %s", tx.queueID)
	}
	date := header.Date(s.srv.Now())
	if len(tx.rcpts) == 1 {
		fmt.Fprintf(&b, "\n\tfor <%s>; %s\n", address.Quote(tx.rcpts[0].Address), date)
	} else {
		fmt.Fprintf(&b, ";\n\t%s\n", date)
	}
	return b.String()
}

// receivedProto is the RFC 3848 protocol word: ESMTP, ESMTPS, ESMTPA,
// ESMTPSA, with UTF8 in front when SMTPUTF8 was used; SMTP for HELO.
func (s *session) receivedProto() string {
	if !s.esmtp {
		return "SMTP"
	}
	p := "ESMTP"
	if s.tx != nil && s.tx.smtputf8 {
		p = "UTF8SMTP"
	}
	if s.tls != nil {
		p += "S"
	}
	if s.saslUser != "" {
		p += "A"
	}
	return p
}

// startMessage opens the content: PREPEND headers from the policy, then
// the Received: header.
func (s *session) startMessage() *dataSink {
	tx := s.tx
	sink := &dataSink{sub: tx.sub, limit: s.srv.SizeLimit}
	var hdr strings.Builder
	for _, p := range tx.prepend {
		hdr.WriteString(strings.TrimRight(p, "\r\n"))
		hdr.WriteString("\n")
	}
	hdr.WriteString(s.receivedHeader())
	h := hdr.String()
	sink.size += int64(len(h) + strings.Count(h, "\n"))
	if _, err := tx.sub.Write([]byte(h)); err != nil {
		sink.err = err
	}
	return sink
}

func (s *session) checkDataStart(verb string) (ok bool, err error) {
	tx := s.tx
	if tx == nil || (tx.sub == nil && tx.tried == 0) {
		s.send(reply{503, "5.5.1", "Error: need RCPT command"})
		return false, nil
	}
	if tx.sub == nil {
		s.send(reply{554, "5.5.1", "Error: no valid recipients"})
		return false, nil
	}
	d := s.srv.Policy.Check(s.ctx, policy.StageData, s.policySession(""))
	wasHold, wasDiscard, wasRedirect, wasFilter := tx.hold, tx.discard, tx.redirect, tx.filter
	if r, act := s.decide(policy.StageData, d, ""); act != actContinue {
		s.send(r)
		if act == actClose {
			s.flush()
			return false, errClose
		}
		return false, nil
	}
	if tx.hold != wasHold || tx.discard != wasDiscard || tx.redirect != wasRedirect || tx.filter != wasFilter {
		tx.sub.Abort()
		tx.sub, tx.queueID = nil, ""
		if err := s.openSubmission(); err != nil {
			return false, nil
		}
	}
	return true, nil
}

func (s *session) cmdData(arg string) error {
	if arg != "" {
		s.syntax("DATA")
		return nil
	}
	ok, err := s.checkDataStart("DATA")
	if !ok {
		return err
	}
	// The client must wait for 354 (RFC 2920 section 3.1).
	if s.checkPipelining("DATA") {
		return errClose
	}
	s.sendCounted(reply{354, "", "End data with <CR><LF>.<CR><LF>"}, false)
	if err := s.flush(); err != nil {
		return err
	}
	sink := s.startMessage()
	dr := dotreader.New(s.br)
	buf := make([]byte, 32<<10)
	if _, err := io.CopyBuffer(sink, dr, buf); err != nil {
		s.where = fmt.Sprintf("DATA (%d bytes)", sink.got)
		return err
	}
	s.finishMessage(sink, dr.BareLF())
	return nil
}

// cmdBdat serves BDAT (RFC 3030): the chunk is always read, even when
// the command is refused.
func (s *session) cmdBdat(arg string) error {
	f := strings.Fields(arg)
	var n int64
	var err error
	last := false
	if len(f) >= 1 {
		n, err = strconv.ParseInt(f[0], 10, 64)
	}
	if len(f) == 2 && strings.EqualFold(f[1], "LAST") {
		last = true
	}
	if len(f) < 1 || len(f) > 2 || err != nil || n < 0 || (len(f) == 2 && !last) {
		s.syntax("BDAT count [LAST]")
		return nil
	}
	tx := s.tx
	if tx == nil || tx.sub == nil || tx.bdatErr != nil {
		if _, err := io.CopyN(io.Discard, s.br, n); err != nil {
			return err
		}
		switch {
		case tx != nil && tx.bdatErr != nil:
			s.send(*tx.bdatErr)
			if last {
				s.abortTx()
			}
		case tx == nil || tx.tried == 0:
			s.send(reply{503, "5.5.1", "Error: need RCPT command"})
		default:
			s.send(reply{554, "5.5.1", "Error: no valid recipients"})
		}
		return nil
	}
	if tx.bdat == nil {
		ok, err := s.checkDataStart("BDAT")
		if !ok {
			if err != nil {
				return err
			}
			// Refused: read this chunk, and answer the rest of the
			// message the same way.
			if _, err := io.CopyN(io.Discard, s.br, n); err != nil {
				return err
			}
			s.abortTx()
			return nil
		}
		tx.bdat = s.startMessage()
		tx.bdatLF = &dotreader.LFWriter{W: tx.bdat}
	}
	if _, err := io.CopyN(tx.bdatLF, s.br, n); err != nil {
		s.where = fmt.Sprintf("BDAT (%d bytes)", tx.bdat.got)
		return err
	}
	if !last {
		s.send(reply{250, "2.0.0", fmt.Sprintf("Ok: %d bytes", n)})
		return nil
	}
	tx.bdatLF.Flush()
	s.finishMessage(tx.bdat, tx.bdatLF.BareLF)
	return nil
}

// finishMessage ends the content: the checks that need the whole
// message, then cleanup's commit, then the reply.
func (s *session) finishMessage(sink *dataSink, bareLF bool) {
	srv := s.srv
	tx := s.tx
	sink.flushFirst()
	fail := func(r reply) {
		s.rejectLog(policy.StageEndOfData, r, tx.lastRcptIfOne())
		s.abortTx()
		s.send(r)
	}
	switch {
	case bareLF && srv.BareNewline == "reject" && !s.bareExcluded():
		fail(reply{srv.BareReject, "5.5.2", srv.Hostname + " Error: bare <LF> received"})
		return
	case sink.tooBig:
		fail(reply{552, "5.3.4", "Error: message file too big"})
		return
	case sink.err != nil:
		r := submitErrorReply(sink.err)
		s.abortTx()
		s.send(r)
		return
	}
	ps := s.policySession("")
	ps.Size = sink.size
	d := srv.Policy.Check(s.ctx, policy.StageEndOfData, ps)
	if r, act := s.decide(policy.StageEndOfData, d, ""); act != actContinue {
		s.abortTx()
		s.send(r)
		return
	}
	qid := tx.queueID
	if d.Discard || d.Action == policy.Discard {
		// DISCARD at end of data: the content is already with
		// cleanup; drop it and say it was queued, as Postfix does.
		s.abortTx()
		s.send(reply{250, "2.0.0", "Ok: queued as " + qid})
		s.errors, s.junk = 0, 0
		return
	}
	rep, err := tx.sub.End()
	tx.sub = nil
	s.tx = nil
	if err != nil {
		srv.Log.Warningf("%s: %s: queue file write error: %v", qid, s.namaddr, err)
		s.send(reply{451, "4.3.0", "Error: queue file write error"})
		return
	}
	if rep.Status != 0 {
		s.send(cleanupReply(rep.Status, rep.Dsn, rep.Text))
		return
	}
	if rep.QueueId != "" {
		qid = rep.QueueId
	}
	if qid == "" {
		s.send(reply{250, "2.0.0", "Ok: queued"})
	} else {
		s.send(reply{250, "2.0.0", "Ok: queued as " + qid})
	}
	// Postfix forgets the errors of a session that delivered mail.
	s.errors, s.junk = 0, 0
}

func (tx *transaction) lastRcptIfOne() string {
	if len(tx.rcpts) == 1 {
		return tx.rcpts[0].Address
	}
	return ""
}

// cleanupReply turns cleanup's status into an SMTP reply.
func cleanupReply(status uint32, dsn, text string) reply {
	code := int(status)
	if code < 400 || code > 599 {
		code = 451
	}
	if dsn == "" || dsn[0] != byte('0'+code/100) {
		dsn = fmt.Sprintf("%d.0.0", code/100)
		if code/100 == 4 {
			dsn = "4.3.0"
		}
	}
	if text == "" {
		text = "Error: queue file write error"
	}
	return reply{code, dsn, text}
}

// submitErrorReply is the reply for a failed submission call.
func submitErrorReply(err error) reply {
	var rej *submit.RejectedError
	if errors.As(err, &rej) && rej.Reply != nil {
		return cleanupReply(rej.Reply.Status, rej.Reply.Dsn, rej.Reply.Text)
	}
	return reply{451, "4.3.0", "Error: queue file write error"}
}
