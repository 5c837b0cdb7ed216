package smtpd

import (
	"fmt"
	"strconv"
	"strings"

	"postern/pkg/address"
	"postern/pkg/policy"
	pb "postern/proto"
)

// handler describes a command.
type handler struct {
	fn     func(s *session, arg string) error
	preTLS bool // allowed before STARTTLS when TLS is required
	last   bool // the client must wait for the reply (RFC 2920)
	junk   bool // counts towards smtpd_junk_command_limit
}

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"HELO":     {fn: (*session).cmdHelo, preTLS: true, last: true},
		"EHLO":     {fn: (*session).cmdEhlo, preTLS: true, last: true},
		"STARTTLS": {fn: (*session).cmdStartTLS, preTLS: true, last: true},
		"AUTH":     {fn: (*session).cmdAuth, last: true},
		"MAIL":     {fn: (*session).cmdMail},
		"RCPT":     {fn: (*session).cmdRcpt},
		"DATA":     {fn: (*session).cmdData}, // checked before 354
		"BDAT":     {fn: (*session).cmdBdat},
		"RSET":     {fn: (*session).cmdRset, preTLS: true, junk: true},
		"NOOP":     {fn: (*session).cmdNoop, preTLS: true, junk: true, last: true},
		"VRFY":     {fn: (*session).cmdVrfy, junk: true, last: true},
		"ETRN":     {fn: (*session).cmdEtrn, junk: true, last: true},
		"QUIT":     {fn: (*session).cmdQuit, preTLS: true, last: true},
	}
}

func (s *session) syntax(text string) {
	s.send(reply{501, "5.5.4", "Syntax: " + text})
}

func (s *session) cmdHelo(arg string) error {
	if arg == "" {
		s.send(reply{501, "", "Syntax: HELO hostname"})
		return nil
	}
	return s.hello(arg, false)
}

func (s *session) cmdEhlo(arg string) error {
	if arg == "" {
		s.send(reply{501, "", "Syntax: EHLO hostname"})
		return nil
	}
	return s.hello(arg, true)
}

func (s *session) hello(arg string, esmtp bool) error {
	// HELO/EHLO resets the transaction (RFC 5321 section 4.1.4).
	s.abortTx()
	name := printable(strings.Fields(arg)[0])
	prevHelo, prevESMTP := s.helo, s.esmtp
	s.helo, s.esmtp = name, esmtp
	d := s.srv.Policy.Check(s.ctx, policy.StageHelo, s.policySession(""))
	if r, act := s.decide(policy.StageHelo, d, ""); act != actContinue {
		s.helo, s.esmtp = prevHelo, prevESMTP
		s.send(r)
		if act == actClose {
			s.flush()
			return errClose
		}
		return nil
	}
	if !esmtp {
		s.pipelining = false
		s.send(reply{250, "", s.srv.Hostname})
		return nil
	}
	lines := []string{s.srv.Hostname}
	add := func(kw, line string) {
		if !s.srv.DiscardEHLO[kw] {
			lines = append(lines, line)
		}
	}
	add("PIPELINING", "PIPELINING")
	s.pipelining = !s.srv.DiscardEHLO["PIPELINING"]
	if s.srv.SizeLimit > 0 {
		add("SIZE", "SIZE "+itoa(s.srv.SizeLimit))
	} else {
		add("SIZE", "SIZE")
	}
	if !s.srv.DisableVRFY {
		add("VRFY", "VRFY")
	}
	add("ETRN", "ETRN")
	if s.tlsOffered() {
		add("STARTTLS", "STARTTLS")
	}
	if mechs := s.authMechs(); len(mechs) > 0 {
		add("AUTH", "AUTH "+strings.Join(mechs, " "))
	}
	add("ENHANCEDSTATUSCODES", "ENHANCEDSTATUSCODES")
	add("8BITMIME", "8BITMIME")
	add("DSN", "DSN")
	if s.srv.SMTPUTF8 {
		add("SMTPUTF8", "SMTPUTF8")
	}
	add("CHUNKING", "CHUNKING")
	s.sendLines(250, lines)
	return nil
}

func (s *session) cmdMail(arg string) error {
	srv := s.srv
	if srv.HeloRequired && s.helo == "" {
		s.send(reply{503, "5.5.1", "Error: send HELO/EHLO first"})
		return nil
	}
	if s.tx != nil {
		s.send(reply{503, "5.5.1", "Error: nested MAIL command"})
		return nil
	}
	addr, _, params, err := parsePathArg(arg, "FROM:", srv.StrictRFC821)
	if err == errNoKeyword {
		s.syntax("MAIL FROM:<address>")
		return nil
	}
	if err != nil {
		s.send(reply{501, "5.1.7", "Bad sender address syntax"})
		return nil
	}
	tx := &transaction{sender: addr}
	for _, p := range params {
		bad := func(what string) error {
			s.send(reply{501, "5.5.4", "Error: Bad " + what + " parameter syntax"})
			return nil
		}
		switch {
		case p.Key == "SIZE" && p.Has:
			n, err := strconv.ParseInt(p.Value, 10, 64)
			if err != nil || n < 0 {
				s.send(reply{501, "5.5.4", "Bad message size syntax"})
				return nil
			}
			tx.size = n
		case p.Key == "BODY" && p.Has && (strings.EqualFold(p.Value, "8BITMIME") || strings.EqualFold(p.Value, "7BIT")):
			tx.body = strings.ToUpper(p.Value)
		case p.Key == "RET" && p.Has:
			v := strings.ToUpper(p.Value)
			if tx.ret != "" || (v != "FULL" && v != "HDRS") {
				return bad("RET")
			}
			tx.ret = v
		case p.Key == "ENVID" && p.Has:
			if tx.envid != "" || p.Value == "" || len(p.Value) > 100 || !xtextOK(p.Value) {
				return bad("ENVID")
			}
			tx.envid = p.Value
		case p.Key == "SMTPUTF8" && !p.Has && srv.SMTPUTF8:
			tx.smtputf8 = true
		case p.Key == "AUTH" && p.Has && srv.SASLEnable:
			// RFC 4954 section 5: accepted and not used.
		default:
			s.send(reply{555, "5.5.4", "Unsupported option: " + printable(p.String())})
			return nil
		}
	}
	if srv.SizeLimit > 0 && tx.size > srv.SizeLimit {
		r := reply{552, "5.3.4", "Message size exceeds fixed limit"}
		s.tx = tx
		s.rejectLog(policy.StageMail, r, "")
		s.tx = nil
		s.send(r)
		return nil
	}
	s.tx = tx
	d := srv.Policy.Check(s.ctx, policy.StageMail, s.policySession(""))
	if r, act := s.decide(policy.StageMail, d, ""); act != actContinue {
		s.tx = nil
		s.send(r)
		if act == actClose {
			s.flush()
			return errClose
		}
		return nil
	}
	s.send(reply{250, "2.1.0", "Ok"})
	return nil
}

func (s *session) cmdRcpt(arg string) error {
	srv := s.srv
	tx := s.tx
	if tx == nil {
		s.send(reply{503, "5.5.1", "Error: need MAIL command"})
		return nil
	}
	addr, _, params, err := parsePathArg(arg, "TO:", srv.StrictRFC821)
	if err == errNoKeyword {
		s.syntax("RCPT TO:<address>")
		return nil
	}
	if err != nil || addr == "" {
		s.send(reply{501, "5.1.3", "Bad recipient address syntax"})
		return nil
	}
	tx.tried++
	if srv.RecipientLimit > 0 && len(tx.rcpts) >= srv.RecipientLimit {
		s.sendCounted(reply{452, "4.5.3", "Error: too many recipients"}, false)
		return nil
	}
	rcpt := &pb.Recipient{Address: addr}
	for _, p := range params {
		switch {
		case p.Key == "NOTIFY" && p.Has:
			n, ok := parseNotify(p.Value)
			if !ok || rcpt.Notify != 0 {
				s.send(reply{501, "5.5.4", "Error: Bad NOTIFY parameter syntax"})
				return nil
			}
			rcpt.Notify = n
		case p.Key == "ORCPT" && p.Has:
			if !parseORCPT(p.Value) || rcpt.Orcpt != "" {
				s.send(reply{501, "5.5.4", "Error: Bad ORCPT parameter syntax"})
				return nil
			}
			rcpt.Orcpt = p.Value
		default:
			s.send(reply{555, "5.5.4", "Unsupported option: " + printable(p.String())})
			return nil
		}
	}
	if rcpt.Orcpt == "" && addr != "" {
		// As Postfix's smtpd: without ORCPT the RCPT TO address is kept
		// as the DSN original recipient ("Original-Recipient: rfc822;x").
		rcpt.Orcpt = "rfc822;" + addr
	}
	d := srv.Policy.Check(s.ctx, policy.StageRcpt, s.policySession(addr))
	wasHold, wasDiscard, wasRedirect, wasFilter := tx.hold, tx.discard, tx.redirect, tx.filter
	if r, act := s.decide(policy.StageRcpt, d, addr); act != actContinue {
		s.send(r)
		if act == actClose {
			s.flush()
			return errClose
		}
		return nil
	}
	// A message action that arrives after the queue file was opened
	// starts the submission again with the new envelope (rare: HOLD,
	// DISCARD, REDIRECT or FILTER on a later recipient).
	if tx.sub != nil && (tx.hold != wasHold || tx.discard != wasDiscard || tx.redirect != wasRedirect || tx.filter != wasFilter) {
		tx.sub.Abort()
		tx.sub, tx.queueID = nil, ""
	}
	if tx.sub == nil {
		if err := s.openSubmission(); err != nil {
			return nil
		}
	}
	tx.rcpts = append(tx.rcpts, rcpt)
	if err := tx.sub.AddRecipients(rcpt); err != nil {
		s.queueError(err)
		return nil
	}
	tx.lastRcpt = addr
	s.send(reply{250, "2.1.5", "Ok"})
	return nil
}

// openSubmission starts the cleanup submission (at the first accepted
// recipient, when Postfix creates its queue file) and logs client=.
func (s *session) openSubmission() error {
	tx := s.tx
	env := &pb.SubmitEnvelope{
		Sender:         tx.sender,
		RewriteContext: "remote",
		Origin:         "smtpd",
		Redirect:       tx.redirect,
		Filter:         tx.filter,
	}
	if tx.hold {
		env.Flags |= uint32(pb.SubmitFlag_SUBMIT_FLAG_HOLD)
	}
	if tx.discard {
		env.Flags |= uint32(pb.SubmitFlag_SUBMIT_FLAG_DISCARD)
	}
	attr := func(n, v string) {
		if v != "" {
			env.Attrs = append(env.Attrs, &pb.Attr{Name: n, Value: v})
		}
	}
	attr("client_name", s.name)
	attr("reverse_client_name", s.revName)
	attr("client_address", s.addrString())
	if s.port > 0 {
		attr("client_port", strconv.Itoa(s.port))
	}
	attr("helo_name", s.helo)
	attr("protocol_name", s.protocol())
	attr("sasl_method", s.saslMethod)
	attr("sasl_username", s.saslUser)
	attr("envelope_id", tx.envid)
	switch tx.ret {
	case "FULL":
		attr("ret_flags", "1")
	case "HDRS":
		attr("ret_flags", "2")
	}
	switch tx.body {
	case "8BITMIME":
		attr("encoding", "8bit")
	case "7BIT":
		attr("encoding", "7bit")
	}
	if tx.smtputf8 {
		attr("smtputf8", "1")
	}
	sub, err := s.srv.Submitter.Begin(s.ctx, env)
	if err != nil {
		s.queueError(err)
		return err
	}
	tx.sub = sub
	tx.queueID = sub.QueueID()
	for _, r := range tx.rcpts {
		if err := sub.AddRecipients(r); err != nil {
			s.queueError(err)
			return err
		}
	}
	extra := ""
	if s.saslMethod != "" {
		extra = fmt.Sprintf(", sasl_method=%s, sasl_username=%s", s.saslMethod, s.saslUser)
	}
	if tx.queueID != "" {
		s.srv.Log.QInfof(tx.queueID, "client=%s%s", s.namaddr, extra)
	}
	return nil
}

// queueError answers a failure to talk to cleanup: its own rejection
// when it gave one, else Postfix's queue file write error.
func (s *session) queueError(err error) {
	r := submitErrorReply(err)
	s.srv.Log.Warningf("%s: queue file write error: %v", s.namaddr, err)
	if s.tx != nil && s.tx.sub != nil {
		s.tx.sub.Abort()
		s.tx.sub, s.tx.queueID = nil, ""
	}
	s.send(r)
}

func (s *session) cmdRset(arg string) error {
	if arg != "" {
		s.syntax("RSET")
		return nil
	}
	s.abortTx()
	s.send(reply{250, "2.0.0", "Ok"})
	return nil
}

func (s *session) cmdNoop(string) error {
	s.send(reply{250, "2.0.0", "Ok"})
	return nil
}

func (s *session) cmdQuit(string) error {
	s.sendCounted(reply{221, "2.0.0", "Bye"}, false)
	s.flush()
	return errClose
}

func (s *session) cmdVrfy(arg string) error {
	if s.srv.DisableVRFY {
		s.send(reply{502, "5.5.1", "VRFY command is disabled"})
		return nil
	}
	if arg == "" {
		s.syntax("VRFY address")
		return nil
	}
	addr, err := address.ParsePath(arg, false)
	if err != nil || addr == "" {
		s.send(reply{501, "5.1.3", "Bad recipient address syntax"})
		return nil
	}
	d := s.srv.Policy.Check(s.ctx, policy.StageVRFY, s.policySession(addr))
	if r, act := s.decide(policy.StageVRFY, d, addr); act != actContinue {
		s.send(r)
		if act == actClose {
			s.flush()
			return errClose
		}
		return nil
	}
	s.send(reply{252, "2.0.0", printable(arg)})
	return nil
}

func (s *session) cmdEtrn(arg string) error {
	if s.helo == "" {
		s.send(reply{503, "5.5.1", "Error: send HELO/EHLO first"})
		return nil
	}
	if s.tx != nil {
		s.send(reply{503, "5.5.1", "Error: MAIL transaction in progress"})
		return nil
	}
	if arg == "" {
		s.syntax("ETRN domain")
		return nil
	}
	ps := s.policySession("")
	ps.ETRNDomain = arg
	d := s.srv.Policy.Check(s.ctx, policy.StageETRN, ps)
	if r, act := s.decide(policy.StageETRN, d, ""); act != actContinue {
		s.send(r)
		if act == actClose {
			s.flush()
			return errClose
		}
		return nil
	}
	// No fast-flush service yet: no domain is eligible.
	s.send(reply{459, "", "<" + printable(strings.TrimLeft(arg, "@#")) + ">: service unavailable"})
	return nil
}
