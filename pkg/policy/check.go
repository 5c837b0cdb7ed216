package policy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// reply is a rejection in the making: code, enhanced status, text.
type reply struct {
	code int
	dsn  string
	text string
}

type status int

const (
	stDunno status = iota
	stOK
	stReject
)

// listResult is the outcome of one restriction list, kept per session for
// the delayed client/helo/sender lists.
type listResult struct {
	st  status
	rej *reply
	dip *reply
}

// listCtx says whose list is evaluated: the item named in replies
// ("<item>: Class rejected: text") and the default access check of a
// bare "type:table" element.
type listCtx struct {
	name   string
	class  string
	access string
}

const (
	classClient = "Client host"
	classHelo   = "Helo command"
	classSender = "Sender address"
	classRcpt   = "Recipient address"
	classData   = "Data command"
	classEOD    = "End-of-data"
	classETRN   = "Etrn command"
)

// evaluation is one Check.
type evaluation struct {
	c     *Checker
	ctx   context.Context
	stage Stage
	s     *Session
	d     Decision

	rej          *reply // the rejection, when a list returned stReject
	dip          *reply // pending defer_if_permit
	dir          *reply // defer_if_reject of the current list
	warnIfReject bool
	depth        int
	dynamic      bool // a result depended on the recipient or had side effects
	rcptChecked  bool // recipient maps already checked (reject_unlisted_recipient)
}

const maxDepth = 100

// Check evaluates what the configuration says about a command. See the
// package documentation for which lists run at which stage.
func (c *Checker) Check(ctx context.Context, stage Stage, s *Session) Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &evaluation{c: c, ctx: ctx, stage: stage, s: s}
	switch stage {
	case StageConnect:
		s.cache = nil
		s.pendingDIP = nil
		if !c.delayReject {
			return e.finish(e.runList(listClient, e.clientCtx()), true)
		}
	case StageHelo:
		if !c.delayReject && s.Helo != "" {
			e.dip = s.pendingDIP
			return e.finish(e.runList(listHelo, e.heloCtx()), true)
		}
	case StageMail:
		if c.heloRequired && s.Helo == "" {
			return Decision{Action: Reject, Code: 503, DSN: "5.5.1", Text: "Error: send HELO/EHLO first"}
		}
		if !c.delayReject {
			e.dip = s.pendingDIP
			st := e.runList(listSender, e.senderCtx())
			if st != stReject {
				st = e.unlistedSender()
			}
			return e.finish(st, true)
		}
	case StageRcpt:
		return e.rcpt()
	case StageData:
		return e.finish(e.runList(listData, listCtx{"DATA", classData, ""}), false)
	case StageEndOfData:
		return e.finish(e.runList(listEOD, listCtx{"END-OF-MESSAGE", classEOD, ""}), false)
	case StageETRN:
		if c.heloRequired && s.Helo == "" {
			return Decision{Action: Reject, Code: 503, DSN: "5.5.1", Text: "Error: send HELO/EHLO first"}
		}
		if c.delayReject {
			if st := e.delayed(listClient, e.clientCtx()); st == stReject {
				return e.finish(st, false)
			}
			if s.Helo != "" {
				if st := e.delayed(listHelo, e.heloCtx()); st == stReject {
					return e.finish(st, false)
				}
			}
		}
		return e.finish(e.runList(listETRN, listCtx{s.ETRNDomain, classETRN, "etrn"}), false)
	case StageVRFY:
		if c.rejectUnlistedRcp && s.Recipient != "" {
			return e.finish(e.checkRcptMaps(e.rcptCtx(), s.Recipient, false), false)
		}
	}
	return Decision{Action: Dunno}
}

func (e *evaluation) clientCtx() listCtx { return listCtx{namaddr(e.s), classClient, "client"} }
func (e *evaluation) heloCtx() listCtx   { return listCtx{e.s.Helo, classHelo, "helo"} }
func (e *evaluation) senderCtx() listCtx { return listCtx{e.s.Sender, classSender, "sender"} }
func (e *evaluation) rcptCtx() listCtx   { return listCtx{e.s.Recipient, classRcpt, "recipient"} }

// rcpt is RCPT TO: the delayed lists, relay and recipient lists, then
// recipient validation, then a pending defer_if_permit.
func (e *evaluation) rcpt() Decision {
	c, s := e.c, e.s
	// RFC 5321 4.5.1: "postmaster" without domain is always accepted.
	if strings.EqualFold(s.Recipient, "postmaster") {
		return Decision{Action: Dunno}
	}
	if c.delayReject {
		if st := e.delayed(listClient, e.clientCtx()); st == stReject {
			return e.finish(st, false)
		}
		if s.Helo != "" {
			if st := e.delayed(listHelo, e.heloCtx()); st == stReject {
				return e.finish(st, false)
			}
		}
		if st := e.delayed(listSender, e.senderCtx()); st == stReject {
			return e.finish(st, false)
		}
	} else {
		e.dip = s.pendingDIP
	}
	order := []string{listRelay, listRcpt}
	if !c.relayBeforeRcpt {
		order = []string{listRcpt, listRelay}
	}
	final := stDunno
	for _, l := range order {
		st := e.runList(l, e.rcptCtx())
		if st == stReject {
			return e.finish(st, false)
		}
		final = st
	}
	// Recipient validation runs whatever the lists said (a permit ends
	// only its own list).
	if c.rejectUnlistedRcp && !e.rcptChecked {
		e.dir = nil
		e.warnIfReject = false
		if st := e.checkRcptMaps(e.rcptCtx(), s.Recipient, false); st == stReject {
			return e.finish(st, false)
		}
	}
	return e.finish(final, false)
}

// delayed evaluates a client, helo or sender list at RCPT (or ETRN) time,
// reusing the session's earlier result when nothing it depended on
// changed.
func (e *evaluation) delayed(list string, lc listCtx) status {
	s := e.s
	key := fmt.Sprintf("%s|%s|%s|%s|%s|%s|%v|%s", list, s.ClientAddr, s.ClientName, s.ReverseClientName,
		s.Helo, s.SASLUser, s.TLS, s.Sender)
	if r, ok := s.cache[key]; ok {
		if e.dip == nil {
			e.dip = r.dip
		}
		if r.st == stReject {
			rej := *r.rej
			e.rej = &rej
		}
		return r.st
	}
	before := e.dip
	sideEffects := len(e.d.Warn) + len(e.d.Prepend)
	e.dynamic = false
	st := e.runList(list, lc)
	if list == listSender && st != stReject {
		st = e.unlistedSender()
	}
	if !e.dynamic && sideEffects == len(e.d.Warn)+len(e.d.Prepend) {
		r := &listResult{st: st, rej: e.rej}
		if before == nil {
			r.dip = e.dip
		}
		if s.cache == nil {
			s.cache = map[string]*listResult{}
		}
		if len(s.cache) > 64 {
			clear(s.cache)
		}
		s.cache[key] = r
	}
	return st
}

// unlistedSender is smtpd_reject_unlisted_sender.
func (e *evaluation) unlistedSender() status {
	if !e.c.rejectUnlistedSnd || e.s.Sender == "" {
		return stDunno
	}
	return e.checkRcptMaps(e.senderCtx(), e.s.Sender, true)
}

// finish turns the outcome into a Decision. saveDIP keeps a
// defer_if_permit for later stages (smtpd_delay_reject = no).
func (e *evaluation) finish(st status, saveDIP bool) Decision {
	d := e.d
	if st == stReject && e.rej != nil {
		d.Code, d.DSN, d.Text = e.rej.code, e.rej.dsn, e.rej.text
		d.Action = actionOf(d.Code)
		return d
	}
	if saveDIP {
		e.s.pendingDIP = e.dip
	} else if e.dip != nil && (e.stage == StageRcpt || e.stage == StageETRN) {
		// The final outcome is permit: a remembered defer_if_permit
		// turns into a deferral now.
		d.Code, d.DSN, d.Text = e.dip.code, e.dip.dsn, e.dip.text
		d.Action = actionOf(d.Code)
		return d
	}
	switch {
	case d.Discard:
		d.Action = Discard
	case d.Hold:
		d.Action = Hold
	case d.Redirect != "":
		d.Action = Redirect
	case d.Filter != "":
		d.Action = Filter
	case st == stOK:
		d.Action = Permit
	default:
		d.Action = Dunno
	}
	return d
}

func actionOf(code int) Action {
	switch {
	case code == 421 || code == 521:
		return Disconnect
	case code >= 500:
		return Reject
	}
	return Defer
}

// runList evaluates a top-level restriction list.
func (e *evaluation) runList(list string, lc listCtx) status {
	e.dir = nil
	e.warnIfReject = false
	e.depth = 0
	return e.run(e.c.lists[list], lc)
}

// run applies restrictions left to right; the first definite result ends
// the list; the end of the list is an implicit permit (stDunno here).
func (e *evaluation) run(list []string, lc listCtx) status {
	e.depth++
	defer func() { e.depth-- }()
	if e.depth > maxDepth {
		e.c.warnf("SMTPD access map or restriction class nesting exceeds limit %d", maxDepth)
		return e.serverError()
	}
	for i := 0; i < len(list); i++ {
		name := list[i]
		lname := strings.ToLower(name)
		if lname == "warn_if_reject" {
			e.warnIfReject = true
			continue
		}
		arg := ""
		if takesArg[lname] {
			if i+1 >= len(list) {
				e.c.warnf("restriction %s requires a table or domain argument", name)
				return e.serverError()
			}
			i++
			arg = list[i]
		}
		wir := e.warnIfReject
		st := e.restriction(lname, name, arg, lc)
		if wir {
			e.warnIfReject = false
		}
		if st != stDunno {
			return st
		}
	}
	return stDunno
}

// reject records a rejection after soft_bounce, warn_if_reject and
// defer_if_reject have had their say.
func (e *evaluation) reject(lc listCtx, r reply) status {
	if e.c.softBounce && r.code >= 500 {
		r.code -= 100
	}
	r.dsn = fixDSN(r.dsn, r.code, lc.class)
	if e.warnIfReject {
		e.d.Warn = append(e.d.Warn, whatsup("reject_warning", e.stage, e.s, fmt.Sprintf("%d %s %s", r.code, r.dsn, r.text)))
		return stDunno
	}
	if e.dir != nil && r.code >= 500 {
		r = *e.dir
	}
	e.rej = &r
	return stReject
}

// deferIfPermit remembers a deferral for a final permit (the first wins).
func (e *evaluation) deferIfPermit(lc listCtx, r reply) status {
	r.dsn = fixDSN(r.dsn, r.code, lc.class)
	if e.warnIfReject {
		e.d.Warn = append(e.d.Warn, whatsup("reject_warning", e.stage, e.s, fmt.Sprintf("%d %s %s", r.code, r.dsn, r.text)))
		return stDunno
	}
	if e.dip == nil {
		e.dip = &r
	}
	return stDunno
}

// deferIfReject remembers a deferral that replaces a later rejection in
// this list.
func (e *evaluation) deferIfReject(lc listCtx, r reply) status {
	r.dsn = fixDSN(r.dsn, r.code, lc.class)
	if e.dir == nil {
		e.dir = &r
	}
	return stDunno
}

// serverError is "451 4.3.5 Server configuration error".
func (e *evaluation) serverError() status {
	e.rej = &reply{451, "4.3.5", "Server configuration error"}
	return stReject
}

// tempLookup is "451 4.3.0 <item>: Temporary lookup failure".
func (e *evaluation) tempLookup(item string, err error) status {
	if _, ok := err.(errConfig); ok {
		return e.serverError()
	}
	e.rej = &reply{451, "4.3.0", "<" + item + ">: Temporary lookup failure"}
	return stReject
}

// fixDSN adjusts an enhanced status code to the reply code's class and to
// the address role (Postfix's smtpd_dsn_fix).
func fixDSN(dsn string, code int, class string) string {
	if dsn == "" {
		dsn = "4.7.1"
	}
	cls := strconv.Itoa(code / 100)
	dsn = cls + dsn[1:]
	if !strings.HasPrefix(dsn[1:], ".1.") || len(dsn) != 5 {
		return dsn
	}
	detail := dsn[4]
	switch class {
	case classSender:
		m := map[byte]string{'1': "0", '2': "8", '3': "7", '4': "0", '5': "0", '6': "0"}
		if v, ok := m[detail]; ok {
			return dsn[:4] + v
		}
	case classRcpt:
		m := map[byte]string{'7': "3", '8': "2"}
		if v, ok := m[detail]; ok {
			return dsn[:4] + v
		}
	case classClient, classHelo, classETRN:
		return cls + ".0.0"
	}
	return dsn
}
