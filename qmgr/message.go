package qmgr

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"postern/pkg/delivery"
	"postern/pkg/queue"
	"postern/pkg/rpc"
	pb "postern/proto"
)

// Texts and status codes of the deferrals and bounces qmgr decides itself,
// Postfix's wording.
const (
	textTransportUnavailable = "mail transport unavailable"
	textResolverFailure      = "address resolver failure"
	textBadSyntax            = "bad address syntax"
	textUnknownError         = "unknown mail transport error"
	textForceExpired         = "message is administratively expired"
	textSuspended            = "delivery temporarily suspended"
)

// message is one message in active/ while qmgr works on it.
type message struct {
	m          *Manager
	id, path   string
	from       string // the state it came from
	f          *queue.File
	env        *queue.Envelope
	arrival    time.Time
	activeTime time.Time

	hadDone   bool // some recipient was done when the message was taken
	needFlush bool // something was appended to the bounce log
	broken    bool // the queue file could not be updated: retry later
	nDeferred int
	deferred  map[int]deferral // this round's deferrals, for expiry

	// Delivery requests under way: they run in their own goroutines and
	// send themselves back on results; the message's goroutine applies
	// them (it alone touches the queue file).
	pending int
	results chan *entry
}

type deferral struct{ dsn, text string }

// process is the life of one message in active/: deliver what is left to
// do, then remove the file or move it to deferred/ (or corrupt/).
func (m *Manager) process(id, path, from string) {
	f, err := queue.OpenRW(path)
	if err != nil {
		m.cannotOpen(id, path, err)
		return
	}
	msg := &message{m: m, id: id, path: path, from: from, f: f, activeTime: m.now(), deferred: map[int]deferral{}, results: make(chan *entry)}
	defer func() {
		if msg.f != nil {
			msg.f.Close()
		}
	}()
	msg.env, err = f.Envelope()
	if err != nil {
		msg.corrupt(err)
		return
	}
	msg.arrival = f.ArrivalTime()
	m.log().QInfof(id, "from=<%s>, size=%d, nrcpt=%d (queue active)",
		delivery.QuoteAddress(msg.env.Sender), f.MessageSize(), f.NumRecipients())

	if f.ForcedExpire() {
		msg.expire(true)
		return
	}
	if from != queue.Incoming {
		// A retry: the reasons of the previous attempt are stale, as
		// Postfix removes the defer logfile when it retries a message.
		if err := f.ClearDelayReasons(); err != nil {
			m.log().QWarningf(id, "cannot clear delay reasons: %v", err)
		}
	}
	// Recipients are read in batches while deliveries of earlier
	// batches run: each recipient read takes one of the
	// qmgr_message_recipient_limit tokens, given back when its result is
	// recorded. A partial batch is sent on when no token is free, so
	// that no message sits on tokens while it waits for more.
	var batch []queue.Recipient
	err = f.Recipients(func(r queue.Recipient) error {
		if r.Done {
			msg.hadDone = true
			return nil
		}
		msg.drain()
		if !msg.takeToken(len(batch) > 0) {
			msg.deliverBatch(batch)
			batch = batch[:0]
			msg.takeToken(false)
		}
		batch = append(batch, r)
		if len(batch) >= max(1, m.S.RecipientBatch) {
			msg.deliverBatch(batch)
			batch = batch[:0]
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		msg.deliverBatch(batch)
		batch = nil
	}
	m.releaseTokens(len(batch))
	for msg.pending > 0 {
		msg.complete(<-msg.results)
	}
	if err != nil {
		msg.corrupt(err)
		return
	}
	msg.finish()
}

// takeToken takes one recipient token. Without try it waits for one,
// recording the results that arrive meanwhile; with try it reports
// false when none is free.
func (msg *message) takeToken(try bool) bool {
	tokens := msg.m.rcptTokens
	for {
		select {
		case tokens <- struct{}{}:
			return true
		default:
		}
		if try {
			return false
		}
		select {
		case tokens <- struct{}{}:
			return true
		case e := <-msg.results:
			msg.complete(e)
		}
	}
}

func (m *Manager) releaseTokens(n int) {
	for range n {
		<-m.rcptTokens
	}
}

// drain records the results that have arrived, without waiting.
func (msg *message) drain() {
	for {
		select {
		case e := <-msg.results:
			msg.complete(e)
		default:
			return
		}
	}
}

// complete records a finished request and gives back its tokens.
func (msg *message) complete(e *entry) {
	msg.pending--
	msg.apply(e)
	msg.m.releaseTokens(len(e.rcpts))
}

// cannotOpen deals with a file that OpenRW refused.
func (m *Manager) cannotOpen(id, path string, err error) {
	switch {
	case errors.Is(err, queue.ErrCorrupt):
		// Invariant 3: never crash or loop on a damaged file.
		if _, err := m.Q.MoveToCorrupt(path, err); err != nil {
			m.log().Warningf("%s: %v", id, err)
		}
	default:
		// Unreadable for now (permissions, I/O): try again after the
		// minimal backoff rather than in a tight loop.
		m.log().Warningf("%s: cannot open queue file: %v", id, err)
		m.toDeferred(id, path, m.now().Add(m.S.MinBackoff))
	}
}

func (msg *message) corrupt(err error) {
	if !errors.Is(err, queue.ErrCorrupt) {
		msg.m.log().QWarningf(msg.id, "cannot read queue file: %v", err)
		msg.f.Close()
		msg.f = nil
		msg.m.toDeferred(msg.id, msg.path, msg.m.now().Add(msg.m.S.MinBackoff))
		return
	}
	msg.f.Close()
	msg.f = nil
	if _, err := msg.m.Q.MoveToCorrupt(msg.path, err); err != nil {
		msg.m.log().Warningf("%s: %v", msg.id, err)
	}
}

// toDeferred sets the retry time of the file in active/ and moves it to
// deferred/. The time is set first, so that a deferred/ scan never sees
// it with a stale one.
func (m *Manager) toDeferred(id, path string, retry time.Time) {
	if err := queue.SetRetryTime(path, retry); err != nil {
		m.log().Warningf("%s: cannot set retry time: %v", id, err)
	}
	if _, err := m.Q.Move(id, queue.Active, queue.Deferred); err != nil {
		m.log().Warningf("%s: cannot move from active to deferred: %v", id, err)
	}
}

// An entry is one delivery request: recipients of this message for one
// transport and destination queue, at most the transport's recipient
// limit of them.
type entry struct {
	t       *transport
	d       *destQueue // enqueued on it (a reference held)
	queue   string
	nexthop string
	flags   uint32
	rcpts   []*pb.DeliverRecipient
	reply   *pb.DeliverReply
	err     error
	dead    *errDead // the destination was dead: no attempt made
}

// deliverBatch resolves a batch of recipients and starts their
// deliveries, grouped per destination, each request in its own goroutine
// (it waits there for a slot of its destination); the results come back
// on msg.results. Recipients deferred at once give their tokens back at
// once. The batch's recipients hold one token each.
func (msg *message) deliverBatch(batch []queue.Recipient) {
	m := msg.m
	addrs := make([]string, len(batch))
	for i, r := range batch {
		addrs[i] = r.Address
	}
	res, err := msg.resolve(addrs)
	if err != nil {
		m.log().Warningf("problem talking to service rewrite: %v", err)
		rs := make([]*pb.DeliverRecipient, len(batch))
		for i, r := range batch {
			rs[i] = deliverRecipient(r, r.Address)
		}
		msg.deferAll(rs, "4.3.0", textResolverFailure, "")
		m.releaseTokens(len(batch))
		return
	}

	type item struct {
		t         *transport
		queue     string
		nexthop   string
		flags     uint32
		domain    string
		recipient *pb.DeliverRecipient
	}
	items := make([]item, 0, len(batch))
	for i, r := range batch {
		rv := res[i]
		tr, nexthop, addr := rv.GetTransport(), rv.GetNexthop(), rv.GetRecipient()
		if addr == "" {
			addr = r.Address
		}
		switch {
		case rv.GetFlags()&uint32(pb.ResolveFlag_RESOLVE_FLAG_FAIL) != 0 || tr == "":
			// A table lookup failed: try again later, through the
			// retry transport, as Postfix does.
			tr, nexthop = "retry", "4.3.0 "+textResolverFailure
		case rv.GetFlags()&uint32(pb.ResolveFlag_RESOLVE_FLAG_ERROR) != 0:
			tr, nexthop = "error", "5.1.3 "+textBadSyntax
		}
		t := m.transports.get(tr)
		_, domain, _ := strings.Cut(addr, "@")
		items = append(items, item{t, t.queueName(nexthop, addr), nexthop, rv.GetFlags(), strings.ToLower(domain), deliverRecipient(r, addr)})
	}
	// Postfix's order: transport, queue, recipient domain, address.
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.t.name != b.t.name {
			return a.t.name < b.t.name
		}
		if a.queue != b.queue {
			return a.queue < b.queue
		}
		if a.domain != b.domain {
			return a.domain < b.domain
		}
		return a.recipient.Address < b.recipient.Address
	})
	var entries []*entry
	var cur *entry
	now := m.now()
	settled := 0
	for _, it := range items {
		if dead, reason := it.t.suspended(now); dead {
			msg.deferAll([]*pb.DeliverRecipient{it.recipient}, "4.3.0", reason, "")
			settled++
			continue
		}
		if cur == nil || cur.t != it.t || cur.queue != it.queue || len(cur.rcpts) >= it.t.recipientLimit {
			d, dead := it.t.enqueue(it.queue, now)
			if dead != nil {
				msg.deferAll([]*pb.DeliverRecipient{it.recipient}, dead.dsn, dead.Error(), "")
				settled++
				cur = nil
				continue
			}
			cur = &entry{t: it.t, d: d, queue: it.queue, nexthop: it.nexthop, flags: it.flags}
			entries = append(entries, cur)
		}
		cur.rcpts = append(cur.rcpts, it.recipient)
	}

	m.releaseTokens(settled)
	for _, e := range entries {
		msg.pending++
		go func() {
			msg.run(e)
			msg.results <- e
		}()
	}
}

func (msg *message) resolve(addrs []string) ([]*pb.Resolution, error) {
	var err error
	for try := 0; try < 3; try++ {
		if try > 0 {
			time.Sleep(time.Second)
		}
		ctx, cancel := rpc.Context()
		var res []*pb.Resolution
		res, err = msg.m.resolver().Resolve(ctx, msg.env.Sender, addrs)
		cancel()
		if err == nil {
			if len(res) == len(addrs) {
				return res, nil
			}
			err = errors.New("wrong number of results")
		}
	}
	return nil, err
}

func deliverRecipient(r queue.Recipient, addr string) *pb.DeliverRecipient {
	return &pb.DeliverRecipient{
		Index:    uint32(r.Index),
		Address:  addr,
		Original: r.OrigAddress,
		Orcpt:    r.ORCPT,
		Notify:   uint32(r.Notify),
	}
}

// request builds the delivery request of an entry.
func (msg *message) request(e *entry) *pb.DeliverRequest {
	return &pb.DeliverRequest{
		QueueId:       msg.id,
		QueueName:     queue.Active,
		Nexthop:       e.nexthop,
		Sender:        msg.env.Sender,
		Recipients:    e.rcpts,
		ArrivalTimeUs: msg.arrival.UnixMicro(),
		ActiveTimeUs:  msg.activeTime.UnixMicro(),
		Envid:         msg.env.EnvelopeID,
		Ret:           uint32(msg.env.Ret),
		Flags:         e.flags,
	}
}

// run makes the delivery request of an entry (in its own goroutine): it
// waits for a slot of the destination (however long other deliveries to
// it take: there is no deadline on the wait), calls the agent, and
// feeds the outcome back to the destination's window.
func (msg *message) run(e *entry) {
	m := msg.m
	d := e.d
	if err := e.t.acquire(context.Background(), d, m.now); err != nil {
		if dead, ok := err.(*errDead); ok {
			e.dead = dead
		} else {
			e.err = err
		}
		return
	}
	o := outcomeNone
	var dsn, reason string
	defer func() { e.t.done(d, o, m.now(), m.S.MinBackoff, dsn, reason) }()
	req := msg.request(e)
	req.RequestTimeUs = m.now().UnixMicro()
	if strings.ContainsAny(e.t.name, "/\x00") || e.t.name == ".." || e.t.name == "." {
		e.err = status.Error(codes.Unavailable, "bad transport name")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), rpc.CallTimeout)
	defer cancel()
	e.reply, e.err = m.deliver(ctx, e.t.name, req)
	if e.err != nil {
		return
	}
	var failed bool
	if failed, dsn, reason = siteFailure(e.reply); failed {
		o = outcomeFailure
	} else {
		o = outcomeAlive
	}
}

// apply records the outcome of an entry: done marks (durably, invariant
// 2) for delivered recipients, bounce log records before the done marks
// of bounced ones, delay reasons for deferred ones.
func (msg *message) apply(e *entry) {
	m := msg.m
	if e.dead != nil {
		// The destination died while this request waited for a slot.
		msg.deferAll(e.rcpts, e.dead.dsn, e.dead.Error(), "")
		return
	}
	if e.err != nil {
		// The agent could not be reached or failed: Postfix's qmgr then
		// throttles the transport and defers its recipients.
		if e.t.suspend(m.now().Add(m.S.TransportRetryTime), textTransportUnavailable) {
			if status.Code(e.err) == codes.Unavailable {
				m.log().Warningf("connect to transport private/%s: %v", e.t.name, e.err)
			} else {
				m.log().Warningf("transport %s failure: %v", e.t.name, e.err)
			}
		}
		msg.deferAll(e.rcpts, "4.3.0", textTransportUnavailable, "")
		return
	}
	byIndex := make(map[uint32]*pb.RecipientResult, len(e.reply.GetResults()))
	for _, r := range e.reply.GetResults() {
		byIndex[r.GetIndex()] = r
	}
	var done []int
	var recs []*pb.StatusRecord
	var bounced []*pb.DeliverRecipient
	reasons := map[string][]*pb.DeliverRecipient{}
	now := m.now()
	for _, rc := range e.rcpts {
		r := byIndex[rc.GetIndex()]
		if r == nil {
			reasons["4.3.0\x00"+textUnknownError] = append(reasons["4.3.0\x00"+textUnknownError], rc)
			continue
		}
		switch r.GetStatus() {
		case pb.DeliveryStatus_DELIVERY_SENT:
			done = append(done, int(rc.GetIndex()))
			// A next hop that offered DSN took NOTIFY=SUCCESS on with the
			// message: it reports the success, not this host.
			if rc.GetNotify()&queue.NotifySuccess != 0 && !r.GetNoSuccessNotice() {
				action := r.GetAction()
				if action == "" {
					action = "delivered"
				}
				recs = append(recs, statusRecord(rc, r, action, now))
			}
		case pb.DeliveryStatus_DELIVERY_BOUNCE:
			bounced = append(bounced, rc)
			recs = append(recs, statusRecord(rc, r, "failed", now))
		default:
			k := r.GetDsn() + "\x00" + r.GetText()
			reasons[k] = append(reasons[k], rc)
		}
	}
	if len(recs) > 0 {
		// Bounced recipients are marked done only after the bounce log
		// has them durably; if that fails they are retried.
		if err := m.bounceAppend(msg.id, recs); err != nil {
			m.log().QWarningf(msg.id, "bounce service failure: %v", err)
			for _, rc := range bounced {
				r := byIndex[rc.GetIndex()]
				msg.noteDeferred(rc, r.GetDsn(), r.GetText())
			}
			msg.setReason(nil, "", bounced)
		} else {
			msg.needFlush = true
			for _, rc := range bounced {
				done = append(done, int(rc.GetIndex()))
			}
		}
	}
	if len(done) > 0 {
		if err := msg.f.MarkDoneBatch(done); err != nil {
			m.log().QWarningf(msg.id, "cannot update queue file: %v", err)
			msg.broken = true
		}
	}
	for k, rcs := range reasons {
		dsn, text, _ := strings.Cut(k, "\x00")
		if byIndex[rcs[0].GetIndex()] == nil {
			// No answer for these: log as the agent would have.
			msg.deferAll(rcs, dsn, text, "")
			continue
		}
		for _, rc := range rcs {
			msg.noteDeferred(rc, dsn, text)
		}
		msg.setReason(rcs, text, nil)
	}
}

func statusRecord(rc *pb.DeliverRecipient, r *pb.RecipientResult, action string, now time.Time) *pb.StatusRecord {
	return &pb.StatusRecord{
		Index:    rc.GetIndex(),
		Address:  rc.GetAddress(),
		Original: rc.GetOriginal(),
		Orcpt:    rc.GetOrcpt(),
		Notify:   rc.GetNotify(),
		Action:   action,
		Dsn:      r.GetDsn(),
		Text:     r.GetText(),
		DiagType: r.GetDiagType(),
		DiagText: r.GetDiagText(),
		Relay:    r.GetRelay(),
		TimeUs:   now.UnixMicro(),
	}
}

func (msg *message) noteDeferred(rc *pb.DeliverRecipient, dsn, text string) {
	msg.nDeferred++
	msg.deferred[int(rc.GetIndex())] = deferral{dsn, text}
}

// setReason records text as the delay reason of rcs (for postqueue -p).
// When per is set, each recipient gets its own result's text.
func (msg *message) setReason(rcs []*pb.DeliverRecipient, text string, per []*pb.DeliverRecipient) {
	if per != nil {
		for _, rc := range per {
			d := msg.deferred[int(rc.GetIndex())]
			if err := msg.f.SetDelayReason([]int{int(rc.GetIndex())}, d.text); err != nil {
				msg.m.log().QWarningf(msg.id, "cannot record delay reason: %v", err)
			}
		}
		return
	}
	idx := make([]int, len(rcs))
	for i, rc := range rcs {
		idx[i] = int(rc.GetIndex())
	}
	if err := msg.f.SetDelayReason(idx, text); err != nil {
		msg.m.log().QWarningf(msg.id, "cannot record delay reason: %v", err)
	}
}

// deferAll defers recipients for a reason qmgr found itself (no agent
// reply) and logs them as Postfix's qmgr does:
// "to=<...>, relay=none, delay=..., delays=..., dsn=4.3.0,
// status=deferred (mail transport unavailable)".
func (msg *message) deferAll(rcs []*pb.DeliverRecipient, dsn, text, relay string) {
	if len(rcs) == 0 {
		return
	}
	req := msg.request(&entry{})
	now := msg.m.now()
	req.RequestTimeUs = now.UnixMicro()
	for _, rc := range rcs {
		msg.m.log().QInfof(msg.id, "%s", delivery.LineStatus(req, rc, relay, dsn, "deferred", text, delivery.Timing{}, now))
		msg.noteDeferred(rc, dsn, text)
	}
	msg.setReason(rcs, text, nil)
}

// finish decides where the message goes after a delivery round.
func (msg *message) finish() {
	m := msg.m
	now := m.now()
	if msg.nDeferred > 0 || msg.broken {
		lifetime := m.S.MaxQueueLifetime
		if msg.env.Sender == "" {
			lifetime = m.S.BounceQueueLifetime
		}
		if msg.nDeferred > 0 && !now.Before(msg.arrival.Add(lifetime)) {
			msg.expire(false)
			return
		}
		if m.S.DelayWarningTime > 0 && !msg.f.DelayWarned() && !now.Before(msg.arrival.Add(m.S.DelayWarningTime)) {
			if err := m.bounceWarn(msg.id); err != nil {
				m.log().QWarningf(msg.id, "delay notification failure: %v", err)
			} else if err := msg.f.SetDelayWarned(true); err != nil {
				m.log().QWarningf(msg.id, "cannot update queue file: %v", err)
			}
		}
		if msg.needFlush {
			if err := m.bounceFlush(msg.id); err != nil {
				// The bounce log stays; it is flushed when the message
				// is done.
				m.log().QWarningf(msg.id, "bounce notification failure: %v", err)
			}
		}
		msg.defer_(now)
		return
	}
	msg.done(now)
}

// defer_ moves the message to deferred/ with Postfix's retry time: now
// plus the message's age, clamped to the backoff bounds, so the interval
// roughly doubles per attempt.
func (msg *message) defer_(now time.Time) {
	m := msg.m
	age := now.Sub(msg.arrival)
	age = max(age, m.S.MinBackoff)
	age = min(age, m.S.MaxBackoff)
	msg.f.Close()
	msg.f = nil
	m.toDeferred(msg.id, msg.path, now.Add(age))
}

// done removes a message that has no recipient left, after the bounce
// service has sent what its log holds. The flush is skipped only when it
// cannot have anything to send: a first attempt from incoming/ in which
// nothing bounced and no notice was asked for.
func (msg *message) done(now time.Time) {
	m := msg.m
	if msg.needFlush || msg.hadDone || msg.from != queue.Incoming {
		if err := m.bounceFlush(msg.id); err != nil {
			m.log().QWarningf(msg.id, "bounce notification failure: %v", err)
			msg.defer_(now)
			return
		}
	}
	msg.f.Close()
	msg.f = nil
	if err := m.Q.Remove(queue.Active, msg.id); err != nil {
		m.log().QWarningf(msg.id, "remove: %v", err)
		return
	}
	m.log().QInfof(msg.id, "removed")
}

// expire returns the recipients still to do to the sender: each gets
// Action failed with its last temporary status and reason, as in
// Postfix, whose qmgr logs "from=<...>, status=expired, returned to
// sender" (force-expired for postsuper -e).
func (msg *message) expire(forced bool) {
	m := msg.m
	now := m.now()
	word := "expired"
	if forced {
		word = "force-expired"
	}
	var recs []*pb.StatusRecord
	var idx []int
	ok := true
	flushBatch := func() {
		if len(recs) == 0 || !ok {
			return
		}
		if err := m.bounceAppend(msg.id, recs); err != nil {
			m.log().QWarningf(msg.id, "bounce service failure: %v", err)
			ok = false
			return
		}
		if err := msg.f.MarkDoneBatch(idx); err != nil {
			m.log().QWarningf(msg.id, "cannot update queue file: %v", err)
			ok = false
			return
		}
		recs, idx = recs[:0], idx[:0]
	}
	err := msg.f.Recipients(func(r queue.Recipient) error {
		if r.Done {
			return nil
		}
		d, seen := msg.deferred[r.Index]
		if !seen {
			d.text = r.DelayReason
			if d.text == "" {
				d.text = textForceExpired
			}
			d.dsn, _ = delivery.SplitDSN("", d.text)
		}
		if d.dsn == "" || d.dsn[0] != '4' {
			d.dsn = "4.0.0"
		}
		recs = append(recs, &pb.StatusRecord{
			Index: uint32(r.Index), Address: r.Address, Original: r.OrigAddress,
			Orcpt: r.ORCPT, Notify: uint32(r.Notify), Action: "failed",
			Dsn: d.dsn, Text: d.text, TimeUs: now.UnixMicro(),
		})
		idx = append(idx, r.Index)
		if len(recs) >= 1000 {
			flushBatch()
		}
		return nil
	})
	if err != nil {
		msg.corrupt(err)
		return
	}
	flushBatch()
	if !ok {
		msg.defer_(now)
		return
	}
	m.log().QInfof(msg.id, "from=<%s>, status=%s, returned to sender", delivery.QuoteAddress(msg.env.Sender), word)
	msg.needFlush = true
	msg.done(now)
}
