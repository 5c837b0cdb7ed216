package bounce

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"postern/pkg/dsn"
	"postern/pkg/queue"
	"postern/pkg/submit"
	pb "postern/proto"
)

// original is what a notice needs of the message it is about.
type original struct {
	qf  *queue.File // nil: unavailable
	env *queue.Envelope
}

func (o *original) sender() string {
	if o.env == nil {
		return ""
	}
	return o.env.Sender
}

// dsnOriginal returns the report's view of the message, with a fresh
// content reader.
func (o *original) dsnOriginal(qid string) dsn.Original {
	d := dsn.Original{QueueID: qid}
	if o.env != nil {
		d.Sender = o.env.Sender
		d.EnvelopeID = o.env.EnvelopeID
		d.Ret = o.env.Ret
		d.Encoding = o.env.Encoding
		d.SMTPUTF8 = o.env.SMTPUTF8
	}
	if o.qf != nil {
		d.Arrival = o.qf.ArrivalTime()
		d.Size = o.qf.MessageSize()
		d.Content = o.qf.ContentReader()
	}
	return d
}

// notice is one notification to submit.
type notice struct {
	class      dsn.Class
	postmaster bool
	from       string // envelope sender: "" or double-bounce
	to         string
	ret        int // forced RET (RetFull for double bounces), 0: the original's
	rcpts      []dsn.Recipient
}

// send builds the report of n and submits it through cleanup; it returns
// the new queue ID.
func (s *server) send(ctx context.Context, qid string, o *original, n *notice) (string, error) {
	conn, err := s.submitConn()
	if err != nil {
		return "", err
	}
	sub, err := submit.Begin(ctx, conn, &pb.SubmitEnvelope{
		Sender:         n.from,
		RewriteContext: "local",
		Flags:          uint32(pb.SubmitFlag_SUBMIT_FLAG_NOTIFY),
		Origin:         "bounce",
	})
	if err != nil {
		return "", err
	}
	if err := sub.AddRecipients(&pb.Recipient{Address: n.to}); err != nil {
		sub.Abort()
		return "", err
	}
	orig := o.dsnOriginal(qid)
	if n.ret != 0 {
		orig.Ret = n.ret
	}
	r := &dsn.Report{
		Class:            n.class,
		PostmasterCopy:   n.postmaster,
		MyHostname:       s.set.myhostname,
		MyOrigin:         s.set.myorigin,
		MailName:         s.set.mailName,
		Time:             s.now(),
		QueueID:          sub.QueueID(),
		To:               n.to,
		SizeLimit:        s.set.sizeLimit,
		DelayWarningTime: s.set.delayWarning,
		MaxQueueLifetime: s.set.maxLifetime,
		Original:         orig,
		Recipients:       n.rcpts,
	}
	if err := r.Write(sub); err != nil {
		sub.Abort()
		return "", err
	}
	reply, err := sub.End()
	if err != nil {
		return "", err
	}
	if reply.Status != 0 {
		return "", fmt.Errorf("cleanup: %d %s %s", reply.Status, reply.Dsn, reply.Text)
	}
	return sub.QueueID(), nil
}

// remoteRelay matches a relay= value "host[addr]:port" or "host[addr]".
var remoteRelay = regexp.MustCompile(`^([^\[\]\s]+)\[[^\]]*\](?::\d+)?$`)

// toDSN converts a log record to a report recipient. Remote-MTA is shown
// for remote SMTP/LMTP replies only, as in Postfix.
func toDSN(r *Record, defaultStatus string) dsn.Recipient {
	d := dsn.Recipient{
		Address: r.Address, Original: r.Original, ORCPT: r.ORCPT,
		Action: r.Action, Status: r.Status,
		DiagType: r.DiagType, DiagText: r.DiagText, Reason: r.Text,
	}
	if d.Status == "" {
		d.Status = defaultStatus
	}
	if d.Reason == "" {
		d.Reason = r.DiagText
	}
	dt := strings.ToLower(r.DiagType)
	if m := remoteRelay.FindStringSubmatch(r.Relay); m != nil && (dt == "smtp" || dt == "lmtp") {
		d.MTAType, d.MTAName = "dns", m[1]
	}
	return d
}

func isSuccessAction(a string) bool {
	return a == "delivered" || a == "relayed" || a == "expanded"
}

// Flush sends the notices for what the log holds and removes it.
func (s *server) Flush(ctx context.Context, req *pb.NotifyRequest) (*pb.BounceReply, error) {
	qid := req.QueueId
	if !queue.ValidID(qid) {
		return failed("bad queue ID %q", qid), nil
	}
	lg, err := openLog(s.logPath(qid))
	if err != nil {
		s.warn(qid, "%v", err)
		return failed("%v", err), nil
	}
	if lg == nil {
		return &pb.BounceReply{}, nil // nothing logged, nothing to send
	}
	defer lg.close()
	recs, err := lg.read(func(line int, err error) {
		s.warn(qid, "%s/%s line %d: %v: record ignored", s.logDir, qid, line, err)
	})
	if err != nil {
		s.warn(qid, "read %s/%s: %v", s.logDir, qid, err)
		return failed("read log: %v", err), nil
	}
	qf, err := s.openOriginal(req)
	if err != nil {
		s.warn(qid, "%v", err)
		return failed("%v", err), nil
	}
	o := &original{qf: qf}
	if qf != nil {
		defer qf.Close()
		if o.env, err = qf.Envelope(); err != nil {
			s.warn(qid, "%v", err)
			return failed("%v", err), nil
		}
	}

	var fail, succ []*Record
	for _, r := range recs {
		switch {
		case r.Action == "failed":
			fail = append(fail, r)
		case isSuccessAction(r.Action):
			if r.Notify&dsn.NotifySuccess != 0 {
				succ = append(succ, r)
			}
		}
	}
	reply := &pb.BounceReply{}
	if len(fail) > 0 {
		id, err := s.flushFailures(ctx, qid, o, fail)
		if err != nil {
			s.warn(qid, "non-delivery notification failed: %v", err)
			return failed("%v", err), nil
		}
		reply.QueueId = id
	}
	if len(succ) > 0 {
		// Best effort: the log goes whether or not this worked, so that a
		// retry never sends the non-delivery report twice.
		id := s.flushSuccess(ctx, qid, o, succ)
		if reply.QueueId == "" {
			reply.QueueId = id
		}
	}
	if err := lg.remove(); err != nil {
		s.warn(qid, "remove %s/%s: %v", s.logDir, qid, err)
	}
	return reply, nil
}

// flushFailures sends the non-delivery report (Postfix's
// bounce_notify_service rules) and returns its queue ID ("" when nothing
// was due).
func (s *server) flushFailures(ctx context.Context, qid string, o *original, fail []*Record) (string, error) {
	sender := o.sender()
	all := make([]dsn.Recipient, len(fail))
	for i, r := range fail {
		all[i] = toDSN(r, "5.0.0")
	}
	switch {
	case strings.EqualFold(sender, s.set.doubleBounceSender):
		// A double bounce failed: never send a triple bounce.
		s.warn(qid, "undeliverable postmaster notification discarded")
		return "", nil
	case sender == "":
		// A bounce bounced: only the postmaster may hear of it, with the
		// whole message, and only when notify_classes asks for it.
		if !s.set.notifyClasses["2bounce"] && !s.set.notifyClasses["bounce"] {
			return "", nil
		}
		id, err := s.send(ctx, qid, o, &notice{
			class: dsn.Failure, postmaster: true, from: s.set.doubleBounceSender,
			to: s.set.twoBounceRcpt, ret: dsn.RetFull, rcpts: all,
		})
		if err != nil {
			return "", err
		}
		s.info(qid, "postmaster non-delivery notification: %s", id)
		return id, nil
	}
	var rcpts []dsn.Recipient
	for i, r := range fail {
		if r.Notify == 0 || r.Notify&dsn.NotifyFailure != 0 {
			rcpts = append(rcpts, all[i])
		}
	}
	var id string
	if len(rcpts) > 0 {
		var err error
		id, err = s.send(ctx, qid, o, &notice{class: dsn.Failure, from: "", to: sender, rcpts: rcpts})
		if err != nil {
			return "", err
		}
		s.info(qid, "sender non-delivery notification: %s", id)
	}
	if s.set.notifyClasses["bounce"] {
		// Not critical: a failure is only logged.
		pid, err := s.send(ctx, qid, o, &notice{
			class: dsn.Failure, postmaster: true, from: s.set.doubleBounceSender,
			to: s.set.bounceRcpt, ret: dsn.RetHdrs, rcpts: all,
		})
		if err != nil {
			s.warn(qid, "postmaster notice failed while bouncing to %s", sender)
		} else {
			s.info(qid, "postmaster non-delivery notification: %s", pid)
		}
	}
	return id, nil
}

// flushSuccess sends the success notice (DSN NOTIFY=SUCCESS).
func (s *server) flushSuccess(ctx context.Context, qid string, o *original, succ []*Record) string {
	sender := o.sender()
	switch {
	case strings.EqualFold(sender, s.set.doubleBounceSender):
		s.info(qid, "not sending trace/success notification for double-bounce message")
		return ""
	case sender == "":
		s.info(qid, "not sending trace/success notification for single-bounce message")
		return ""
	}
	rcpts := make([]dsn.Recipient, len(succ))
	for i, r := range succ {
		rcpts[i] = toDSN(r, "2.0.0")
	}
	id, err := s.send(ctx, qid, o, &notice{class: dsn.Success, to: sender, ret: dsn.RetHdrs, rcpts: rcpts})
	if err != nil {
		s.warn(qid, "delivery status notification failed: %v", err)
		return ""
	}
	s.info(qid, "sender delivery status notification: %s", id)
	return id
}

// Warn sends one delay notice for the recipients that are not done.
func (s *server) Warn(ctx context.Context, req *pb.NotifyRequest) (*pb.BounceReply, error) {
	qid := req.QueueId
	if !queue.ValidID(qid) {
		return failed("bad queue ID %q", qid), nil
	}
	qf, err := s.openOriginal(req)
	if err != nil {
		s.warn(qid, "%v", err)
		return failed("%v", err), nil
	}
	if qf == nil {
		return &pb.BounceReply{}, nil // gone: nothing to warn about
	}
	defer qf.Close()
	o := &original{qf: qf}
	if o.env, err = qf.Envelope(); err != nil {
		s.warn(qid, "%v", err)
		return failed("%v", err), nil
	}
	sender := o.sender()
	if sender == "" || strings.EqualFold(sender, s.set.doubleBounceSender) {
		return &pb.BounceReply{}, nil // no delay notices about notices
	}
	var all, rcpts []dsn.Recipient
	err = qf.Recipients(func(r queue.Recipient) error {
		if r.Done {
			return nil
		}
		d := delayed(r)
		all = append(all, d)
		if r.Notify == 0 || r.Notify&dsn.NotifyDelay != 0 {
			rcpts = append(rcpts, d)
		}
		return nil
	})
	if err != nil {
		s.warn(qid, "%v", err)
		return failed("%v", err), nil
	}
	reply := &pb.BounceReply{}
	if len(rcpts) > 0 {
		id, err := s.send(ctx, qid, o, &notice{class: dsn.Delay, to: sender, rcpts: rcpts})
		if err != nil {
			s.warn(qid, "delay notification failed: %v", err)
			return failed("%v", err), nil
		}
		s.info(qid, "sender delay notification: %s", id)
		reply.QueueId = id
	}
	if s.set.notifyClasses["delay"] && len(all) > 0 {
		id, err := s.send(ctx, qid, o, &notice{
			class: dsn.Delay, postmaster: true, from: s.set.doubleBounceSender,
			to: s.set.delayRcpt, rcpts: all,
		})
		if err != nil {
			s.warn(qid, "postmaster delay notice failed: %v", err)
		} else {
			s.info(qid, "postmaster delay notification: %s", id)
		}
	}
	return reply, nil
}

var (
	// remoteReason is smtp(8)'s "host H[A] said: REPLY (in reply to X
	// command)".
	remoteReason = regexp.MustCompile(`^host ([^\[\]\s]+)\[[^\]]*\] said: (.*?)(?: \(in reply to .* command\))?$`)
	enhanced     = regexp.MustCompile(`(?:^|\s)(4\.\d{1,3}\.\d{1,3})(?:\s|$)`)
)

// delayed makes the report recipient of a deferred recipient from its
// delay reason (the queue file keeps the reason text only: the status is
// the first 4.X.Y code in it, else 4.0.0, and a remote server's reply
// becomes Remote-MTA and an smtp Diagnostic-Code).
func delayed(r queue.Recipient) dsn.Recipient {
	reason := r.DelayReason
	if reason == "" {
		reason = "delivery temporarily deferred"
	}
	d := dsn.Recipient{
		Address: r.Address, Original: r.OrigAddress, ORCPT: r.ORCPT,
		Action: "delayed", Status: "4.0.0", Reason: reason,
	}
	if m := enhanced.FindStringSubmatch(reason); m != nil {
		d.Status = m[1]
	}
	if m := remoteReason.FindStringSubmatch(reason); m != nil {
		d.MTAType, d.MTAName = "dns", m[1]
		d.DiagType, d.DiagText = "smtp", m[2]
	}
	return d
}
