package local

import (
	"context"
	"fmt"
	"io"
	"strings"

	"postern/pkg/queue"
	pb "postern/proto"
)

// status of one delivery step, as Postfix's local(8) returns it: done
// (delivered, or bounced and recorded) or deferred (stop expanding; the
// whole recipient is tried again later).
type status int

const (
	stOK status = iota
	stDefer
)

// Expansion types (Postfix's EXPAND_TYPE_*): where a target came from,
// which allow_mail_to_commands and allow_mail_to_files name.
const (
	expAlias   = "alias"
	expForward = "forward"
	expInclude = "include"
)

// attr is the state of one recipient at one nesting level (Postfix's
// DELIVER_ATTR).
type attr struct {
	address   string // the recipient being delivered (internal form)
	local     string // its local part, lowercased, with extension
	user      string // local part without extension
	ext       string // extension, or ""
	domain    string
	sender    string // envelope sender (owner-NAME@myorigin after an owner alias)
	owner     string // owner alias name or .forward user: targets are resubmitted
	expType   string // expAlias, expForward, expInclude or ""
	expFrom   string // the alias, user or include file being expanded
	level     int
	noExpand  bool // "\user": mailbox only
	fromAlias bool // reached through an alias (no user context)
}

// userAttr are the privileges and identity a file or command delivery
// runs with (Postfix's USER_ATTR).
type userAttr struct {
	creds   Creds
	set     bool
	home    string
	shell   string
	logname string
}

// leaf is the outcome of one final delivery.
type leaf struct {
	address string
	st      pb.DeliveryStatus
	dsn     string
	text    string
}

// fwdBatch is one message to resubmit: all forwarded targets with the
// same sender.
type fwdBatch struct {
	sender  string
	logAddr string
	rcpts   []*pb.Recipient
	seen    map[string]bool
}

// delivery is one recipient of a request.
type delivery struct {
	s     *Server
	ctx   context.Context
	req   *pb.DeliverRequest
	rcpt  *pb.DeliverRecipient
	qf    *queue.File
	env   *queue.Envelope
	loops map[string]bool
	dup   map[string]bool

	deliveredTo string // frozen_delivered_to: the recipient qmgr gave
	origRcpt    string
	leaves      []leaf
	fwd         []*fwdBatch
}

// run delivers to d.rcpt and returns its result for qmgr.
func (d *delivery) run() *pb.RecipientResult {
	d.deliveredTo = strings.ToLower(d.rcpt.Address)
	d.origRcpt = d.rcpt.Original
	if d.origRcpt == "" {
		d.origRcpt = d.rcpt.Address
	}
	a := attr{address: d.rcpt.Address, sender: d.req.Sender}
	st := d.recipient(a, userAttr{})
	if st == stOK {
		d.finishForwards()
	}
	res := &pb.RecipientResult{Index: d.rcpt.Index, Relay: d.s.Relay}
	var sent, bounced, deferred *leaf
	for i := range d.leaves {
		l := &d.leaves[i]
		switch l.st {
		case pb.DeliveryStatus_DELIVERY_SENT:
			if sent == nil {
				sent = l
			}
		case pb.DeliveryStatus_DELIVERY_BOUNCE:
			if bounced == nil {
				bounced = l
			}
		default:
			if deferred == nil {
				deferred = l
			}
		}
	}
	switch {
	case deferred != nil || st == stDefer:
		res.Status = pb.DeliveryStatus_DELIVERY_DEFER
		if deferred != nil {
			res.Dsn, res.Text = deferred.dsn, deferred.text
		} else {
			res.Dsn, res.Text = "4.3.0", "mail system error"
		}
	case bounced != nil:
		res.Status, res.Dsn, res.Text = pb.DeliveryStatus_DELIVERY_BOUNCE, bounced.dsn, bounced.text
	case sent != nil:
		res.Status, res.Dsn, res.Text = pb.DeliveryStatus_DELIVERY_SENT, sent.dsn, sent.text
		res.Action = "delivered"
		if len(d.leaves) > 1 || strings.HasPrefix(sent.text, "forwarded as ") {
			res.Action = "expanded"
		}
	default:
		// Everything expanded to duplicates of what was delivered
		// already within this request.
		res.Status, res.Dsn, res.Text = pb.DeliveryStatus_DELIVERY_SENT, "2.0.0", "delivered"
		res.Action = "expanded"
	}
	return res
}

// record logs one final result with to=<address> and keeps it.
func (d *delivery) record(address string, st pb.DeliveryStatus, dsn, text string) status {
	d.leaves = append(d.leaves, leaf{address: address, st: st, dsn: dsn, text: text})
	r := &pb.DeliverRecipient{Index: d.rcpt.Index, Address: address, Original: d.rcpt.Original, Orcpt: d.rcpt.Orcpt, Notify: d.rcpt.Notify}
	if r.Original == "" {
		r.Original = d.rcpt.Address
	}
	d.s.logResult(d.req, r, &pb.RecipientResult{Index: d.rcpt.Index, Status: st, Dsn: dsn, Text: text, Relay: d.s.Relay})
	if st == pb.DeliveryStatus_DELIVERY_DEFER {
		return stDefer
	}
	return stOK
}

func (d *delivery) sent(a attr, text string) status {
	return d.record(a.address, pb.DeliveryStatus_DELIVERY_SENT, "2.0.0", text)
}

func (d *delivery) bounce(a attr, dsn, text string) status {
	return d.record(a.address, pb.DeliveryStatus_DELIVERY_BOUNCE, dsn, text)
}

func (d *delivery) deferTo(a attr, dsn, text string) status {
	return d.record(a.address, pb.DeliveryStatus_DELIVERY_DEFER, dsn, text)
}

// fail records a failure whose class the DSN decides.
func (d *delivery) fail(a attr, dsn, text string) status {
	if strings.HasPrefix(dsn, "4") {
		return d.deferTo(a, dsn, text)
	}
	return d.bounce(a, dsn, text)
}

// seen is the duplicate filter of the request (duplicate_filter_limit).
func (d *delivery) seen(key string) bool {
	if d.dup[key] {
		return true
	}
	if d.s.p.dupLimit <= 0 || len(d.dup) < d.s.p.dupLimit {
		d.dup[key] = true
	}
	return false
}

const maxLevel = 100

// recipient delivers to one address: aliases, then .forward, then the
// mailbox (Postfix's deliver_recipient and deliver_local).
func (d *delivery) recipient(a attr, u userAttr) status {
	if a.level > maxLevel {
		return d.bounce(a, "5.4.6", "recipient nesting limit exceeded")
	}
	if d.loops[strings.ToLower(a.address)] {
		return d.bounce(a, "5.4.6", "mail forwarding loop for "+a.address)
	}
	if d.seen(fmt.Sprintf("recipient %d %s", a.level, strings.ToLower(a.address))) {
		return stOK
	}
	local, domain := splitAddress(a.address)
	a.local = strings.ToLower(local)
	a.domain = domain
	a.user, a.ext = d.s.splitExtension(a.local)

	if !a.noExpand {
		if st, done := d.alias(a); done {
			return st
		}
	}
	pw, err := lookupUser(a.user)
	if err != nil {
		if err != errNoUser {
			return d.deferTo(a, "4.3.0", fmt.Sprintf("user lookup error for %s: %v", a.user, err))
		}
		return d.unknown(a)
	}
	if !a.noExpand {
		if st, done := d.dotForward(a, pw); done {
			return st
		}
	}
	return d.mailbox(a, pw)
}

// splitAddress splits at the last "@".
func splitAddress(addr string) (local, domain string) {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[:i], addr[i+1:]
	}
	return addr, ""
}

// splitExtension splits user+ext at the first recipient_delimiter
// character; with owner_request_special, owner-X and X-request are never
// split.
func (s *Server) splitExtension(local string) (user, ext string) {
	delim := s.p.delimiter
	if delim == "" {
		return local, ""
	}
	if s.p.ownerRequest && strings.Contains(delim, "-") &&
		(strings.HasPrefix(local, "owner-") || strings.HasSuffix(local, "-request")) {
		return local, ""
	}
	i := strings.IndexAny(local, delim)
	if i <= 0 {
		return local, ""
	}
	return local[:i], local[i+1:]
}

// unknown handles a recipient that is neither an alias nor a user:
// luser_relay or a bounce.
func (d *delivery) unknown(a attr) status {
	if relay := d.s.p.luserRelay; relay != "" {
		vars := d.macroVars(a, nil)
		target := expandMacros(relay, vars, "")
		na := a
		na.level++
		na.noExpand = false
		return d.address(na, userAttr{}, target)
	}
	return d.bounce(a, "5.1.1", fmt.Sprintf("unknown user: \"%s\"", a.local))
}

// macroVars are the names forward_path and luser_relay may use.
func (d *delivery) macroVars(a attr, pw *passwd) map[string]string {
	v := map[string]string{
		"user":                a.user,
		"extension":           a.ext,
		"domain":              a.domain,
		"local":               a.local,
		"recipient":           a.address,
		"recipient_delimiter": "",
	}
	if a.ext != "" {
		v["recipient_delimiter"] = d.s.p.delimiter[:1]
		if i := strings.IndexAny(a.local, d.s.p.delimiter); i >= 0 {
			v["recipient_delimiter"] = a.local[i : i+1]
		}
	}
	if pw != nil {
		v["home"] = pw.home
		v["shell"] = pw.shell
	}
	return v
}

// token delivers to one alias, .forward or :include: target.
func (d *delivery) token(a attr, u userAttr, t string) status {
	switch {
	case strings.HasPrefix(t, "/"):
		return d.file(a, u, t)
	case strings.HasPrefix(t, "|"):
		return d.command(a, u, t[1:])
	case len(t) >= 9 && strings.EqualFold(t[:9], ":include:"):
		return d.include(a, u, t[9:])
	default:
		return d.address(a, u, t)
	}
}

// address delivers to an address found in an expansion: local addresses
// inline, unless the expansion has an owner (owner- alias, .forward):
// then, as everything non-local, by resubmission.
func (d *delivery) address(a attr, u userAttr, t string) status {
	noExpand := false
	if strings.HasPrefix(t, "\\") {
		t = t[1:]
		noExpand = true
	}
	if t == "" {
		return stOK
	}
	if !strings.Contains(t, "@") {
		t += "@" + d.s.p.myorigin
	}
	local, domain := splitAddress(t)
	isLocal := d.s.isLocalDomain(domain)
	user, _ := d.s.splitExtension(strings.ToLower(local))
	self := a.expType == expForward && isLocal && user == a.expFrom
	if isLocal && (noExpand || self || a.owner == "") {
		na := a
		na.address = t
		na.noExpand = noExpand
		na.fromAlias = a.expType == expAlias
		return d.recipient(na, userAttr{})
	}
	return d.forward(a, t)
}

// isLocalDomain reports whether domain is one of mydestination (or empty).
func (s *Server) isLocalDomain(domain string) bool {
	if domain == "" {
		return true
	}
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	for _, d := range s.p.mydestination {
		if strings.ToLower(d) == domain {
			return true
		}
	}
	return false
}

// forward queues t for resubmission with a's sender.
func (d *delivery) forward(a attr, t string) status {
	var b *fwdBatch
	for _, x := range d.fwd {
		if x.sender == a.sender {
			b = x
		}
	}
	if b == nil {
		b = &fwdBatch{sender: a.sender, logAddr: a.address, seen: map[string]bool{}}
		d.fwd = append(d.fwd, b)
	}
	key := strings.ToLower(t)
	if b.seen[key] {
		return stOK
	}
	b.seen[key] = true
	notify := d.rcpt.Notify &^ queue.NotifySuccess
	b.rcpts = append(b.rcpts, &pb.Recipient{Address: t, Original: d.origRcpt, Orcpt: d.rcpt.Orcpt, Notify: notify})
	return stOK
}

// finishForwards submits the collected forwarded messages (Postfix's
// forward_finish): one new message per sender, with a Delivered-To: header
// prepended, logged "forwarded as NEWID".
func (d *delivery) finishForwards() {
	for _, b := range d.fwd {
		env := &pb.SubmitEnvelope{
			Sender:         b.sender,
			FullName:       d.env.SenderFullName,
			RewriteContext: "local",
			Origin:         "local",
			ParentQueueId:  d.req.QueueId,
		}
		if d.env.EnvelopeID != "" {
			env.Attrs = append(env.Attrs, &pb.Attr{Name: "envelope_id", Value: d.env.EnvelopeID})
		}
		if d.env.Ret != 0 {
			env.Attrs = append(env.Attrs, &pb.Attr{Name: "ret_flags", Value: fmt.Sprint(d.env.Ret)})
		}
		content := io.MultiReader(strings.NewReader("Delivered-To: "+d.deliveredTo+"\n"), d.qf.ContentReader())
		a := attr{address: b.logAddr}
		reply, err := d.s.Submit(d.ctx, env, b.rcpts, content)
		switch {
		case err != nil:
			d.deferTo(a, "4.3.0", "mail forwarding failed: "+err.Error())
		case reply.Status != 0:
			dsn := reply.Dsn
			if dsn == "" {
				dsn = "4.3.0"
			}
			d.fail(a, dsn, "mail forwarding failed: "+reply.Text)
		default:
			d.sent(a, "forwarded as "+reply.QueueId)
		}
	}
}
