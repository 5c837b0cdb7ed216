package qmgr

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/pkg/queue"
	"postern/pkg/trigger"
	pb "postern/proto"
)

// deferAllReply answers every recipient of req with a deferral.
func deferAllReply(req *pb.DeliverRequest, dsn, text string, site bool) *pb.DeliverReply {
	reply := &pb.DeliverReply{SiteFailure: site}
	if site {
		reply.SiteFailureText = text
	}
	for _, r := range req.Recipients {
		reply.Results = append(reply.Results, &pb.RecipientResult{Index: r.Index, Status: pb.DeliveryStatus_DELIVERY_DEFER, Dsn: dsn, Text: text, Relay: "none"})
	}
	return reply
}

func sentReply(req *pb.DeliverRequest) *pb.DeliverReply {
	reply := &pb.DeliverReply{}
	for _, r := range req.Recipients {
		reply.Results = append(reply.Results, &pb.RecipientResult{Index: r.Index, Status: pb.DeliveryStatus_DELIVERY_SENT, Dsn: "2.0.0", Text: "delivered", Relay: "mx"})
	}
	return reply
}

func rcptList(n int, domain string) []string {
	var rs []string
	for i := range n {
		rs = append(rs, fmt.Sprintf("u%02d@%s", i, domain))
	}
	return rs
}

func (e *env) agentCalls(nexthop string) int {
	n := 0
	for _, ev := range e.eventList() {
		if strings.HasPrefix(ev, "deliver smtp "+nexthop+" ") {
			n++
		}
	}
	return n
}

// Slow start: a destination starts with initial_destination_concurrency
// parallel requests, and each success opens the window by one (positive
// feedback 1), so that the number of requests under way grows.
func TestSlowStartGrowsConcurrencyFromInitialWindow(t *testing.T) {
	e := newEnv(t, "smtp_destination_recipient_limit = 2\n")
	const requests = 15
	var (
		mu        sync.Mutex
		inflight  int
		completed int
		arrivals  int
		maxSeen   int
		bad       []string
	)
	gate := make(chan struct{})
	e.agent = func(ctx context.Context, tr string, req *pb.DeliverRequest) (*pb.DeliverReply, bool) {
		if req.Nexthop != "slow.test" {
			return nil, false
		}
		mu.Lock()
		inflight++
		arrivals++
		maxSeen = max(maxSeen, inflight)
		// The window is 5 plus one per success so far (at most).
		if inflight > 5+completed {
			bad = append(bad, fmt.Sprintf("%d requests under way after %d successes", inflight, completed))
		}
		mu.Unlock()
		select {
		case <-gate:
		case <-ctx.Done():
		}
		mu.Lock()
		inflight--
		completed++
		mu.Unlock()
		return sentReply(req), true
	}
	id := e.submit("sender@example.test", rcptList(2*requests, "slow.test")...)
	done := make(chan struct{})
	go func() { e.run(queue.Incoming, false); close(done) }()

	arrived := func(n int) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return arrivals >= n }
	}
	waitFor(t, arrived(5))
	if w := e.m.transports.get("smtp").window("slow.test"); w != 5 {
		t.Errorf("initial window %d, want 5", w)
	}
	// Each success opens the window by one: two more requests start.
	for k := 1; arrivals < requests; k++ {
		gate <- struct{}{}
		waitFor(t, arrived(min(requests, 5+2*k)))
	}
	for {
		select {
		case gate <- struct{}{}:
			continue
		case <-done:
		}
		break
	}
	mu.Lock()
	defer mu.Unlock()
	for _, b := range bad {
		t.Error(b)
	}
	if maxSeen <= 5 {
		t.Errorf("at most %d requests under way: the window did not grow", maxSeen)
	}
	if st := e.state(id); st != "gone" {
		t.Errorf("message in %s", st)
	}
}

// A destination that refuses every connection is dead after its failed
// cohort limit: with the defaults the window goes 5, 4, 3, 2 and the
// fourth failure makes 0.2+0.25+0.33+0.5 >= 1. Its other recipients, and
// those of later messages, are deferred with "delivery temporarily
// suspended: REASON" without an agent call, until the dead time
// (minimal_backoff_time) ends or a flush forgets it.
func TestDeadDestinationIsSuspendedUntilFlushOrDeadTime(t *testing.T) {
	e := newEnv(t, "smtp_destination_recipient_limit = 2\n")
	const reason = "connect to dead.test[192.0.2.1]:25: Connection refused"
	e.agent = func(ctx context.Context, tr string, req *pb.DeliverRequest) (*pb.DeliverReply, bool) {
		if req.Nexthop != "dead.test" {
			return nil, false
		}
		return deferAllReply(req, "4.4.1", reason, true), true
	}
	id := e.submit("sender@example.test", rcptList(20, "dead.test")...)
	e.run(queue.Incoming, false)
	if n := e.agentCalls("dead.test"); n != 4 && n != 5 {
		// 5 start at once; the window shrinks with every failure, so
		// no sixth request starts before the destination is dead.
		t.Fatalf("%d agent calls, want 4 or 5: %q", n, e.eventList())
	}
	calls := e.agentCalls("dead.test")
	if w := e.m.transports.get("smtp").window("dead.test"); w != 0 {
		t.Errorf("window %d, want 0 (dead)", w)
	}
	suspended := regexp.QuoteMeta("status=deferred (delivery temporarily suspended: " + reason + ")")
	re := regexp.MustCompile(id + `: to=<u[0-9]+@dead.test>, relay=none, delay=[0-9.]+, delays=[0-9./]+, dsn=4.4.1, ` + suspended + `\n`)
	if n := len(re.FindAllString(e.log(), -1)); n != 20-2*calls {
		t.Errorf("%d recipients deferred as suspended, want %d:\n%s", n, 20-2*calls, e.log())
	}
	if st := e.state(id); st != queue.Deferred {
		t.Fatalf("message in %s", st)
	}
	var reasons []string
	for _, r := range e.recipients(id) {
		reasons = append(reasons, r.DelayReason)
	}
	if !strings.Contains(strings.Join(reasons, "\n"), "delivery temporarily suspended: "+reason) {
		t.Errorf("delay reasons %q", reasons)
	}

	// A new message for the dead destination: no agent call; a message
	// for another destination goes through.
	id2 := e.submit("sender@example.test", "a@dead.test", "ok1@live.test")
	e.run(queue.Incoming, false)
	if n := e.agentCalls("dead.test"); n != calls {
		t.Errorf("agent called for a dead destination (%d calls, had %d)", n, calls)
	}
	wantLog(t, e, id2+`: to=<a@dead.test>, relay=none, .*`+suspended)
	if e.delivered["ok1@live.test"] != 1 {
		t.Errorf("live destination not delivered: %v", e.delivered)
	}

	// A flush forgets the dead destination: the next message is tried.
	e.m.Trigger([]byte{trigger.Flush})
	if w := e.m.transports.get("smtp").window("dead.test"); w != -1 {
		t.Errorf("window %d after flush, want the queue forgotten", w)
	}
	e.submit("sender@example.test", "b@dead.test")
	e.run(queue.Incoming, false)
	if n := e.agentCalls("dead.test"); n != calls+1 {
		t.Errorf("%d agent calls after flush, want %d", n, calls+1)
	}
}

func TestDeadDestinationComesBackAfterMinimalBackoff(t *testing.T) {
	e := newEnv(t, "smtp_destination_recipient_limit = 1\ndefault_destination_concurrency_failed_cohort_limit = 1\ninitial_destination_concurrency = 1\n")
	// Recipient limit 1 makes the queue recipient@nexthop; one request
	// at window 1 is a whole cohort: dead after one failure.
	e.agent = func(ctx context.Context, tr string, req *pb.DeliverRequest) (*pb.DeliverReply, bool) {
		return deferAllReply(req, "4.4.2", "lost connection with mx.dead.test[192.0.2.1] while receiving the initial server greeting", false), true
	}
	e.submit("sender@example.test", "x@dead.test")
	e.run(queue.Incoming, false)
	e.submit("sender@example.test", "x@dead.test")
	e.run(queue.Incoming, false)
	if n := e.agentCalls("dead.test"); n != 1 {
		t.Fatalf("%d agent calls, want 1 (then dead)", n)
	}
	wantLog(t, e, `dsn=4.4.2, status=deferred \(delivery temporarily suspended: lost connection with mx.dead.test`)
	e.advance(e.m.S.MinBackoff)
	e.submit("sender@example.test", "x@dead.test")
	e.run(queue.Incoming, false)
	if n := e.agentCalls("dead.test"); n != 2 {
		t.Fatalf("%d agent calls after the dead time, want 2", n)
	}
}

// Per-recipient 4xx replies are signs of life: they never make a
// destination dead.
func TestRecipientDeferralsDoNotKillADestination(t *testing.T) {
	e := newEnv(t, "smtp_destination_recipient_limit = 2\ninitial_destination_concurrency = 1\n")
	// One request at window 1 is a whole cohort: a failure would kill
	// the destination before the second request.
	e.submit("sender@example.test", "tmp1@busy.test", "tmp2@busy.test", "tmp3@busy.test", "tmp4@busy.test")
	e.run(queue.Incoming, false)
	if n := e.agentCalls("busy.test"); n != 2 {
		t.Errorf("%d agent calls, want 2", n)
	}
	if strings.Contains(e.log(), textSuspended) {
		t.Errorf("destination suspended:\n%s", e.log())
	}
}

// One destination whose deliveries hang stalls neither another message
// nor the other destinations (and later recipient batches) of the same
// message.
func TestHangingDestinationDoesNotStallOthers(t *testing.T) {
	e := newEnv(t, "")
	e.m.S.RecipientBatch = 1
	release := make(chan struct{})
	var hung sync.WaitGroup
	hung.Add(1)
	var once sync.Once
	e.agent = func(ctx context.Context, tr string, req *pb.DeliverRequest) (*pb.DeliverReply, bool) {
		if req.Nexthop != "hang.test" {
			return nil, false
		}
		once.Do(hung.Done)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return sentReply(req), true
	}
	stuck := e.submit("sender@example.test", "a@hang.test", "ok1@other.test", "ok2@third.test")
	go e.m.Scan(context.Background(), queue.Incoming, false)
	hung.Wait()
	other := e.submit("sender@example.test", "ok3@r.test")
	e.m.Scan(context.Background(), queue.Incoming, false)
	waitFor(t, func() bool { return e.state(other) == "gone" })
	waitFor(t, func() bool {
		n := 0
		for _, r := range e.recipients(stuck) {
			if r.Done {
				n++
			}
		}
		return n == 2
	})
	if st := e.state(stuck); st != queue.Active {
		t.Errorf("hanging message in %s, want active", st)
	}
	close(release)
	e.m.Wait()
	if st := e.state(stuck); st != "gone" {
		t.Errorf("message in %s", st)
	}
}

// default_destination_recipient_limit applies to every transport without
// its own setting; local keeps its 1.
func TestDefaultRecipientLimit(t *testing.T) {
	e := newEnv(t, "default_destination_recipient_limit = 3\n")
	e.submit("sender@example.test", "ok1@r.test", "ok2@r.test", "ok3@r.test", "ok4@r.test", "ok1@local.test", "ok2@local.test")
	e.run(queue.Incoming, false)
	got := map[string]bool{}
	for _, ev := range e.eventList() {
		got[ev] = true
	}
	for _, w := range []string{
		"deliver smtp r.test ok1@r.test,ok2@r.test,ok3@r.test", "deliver smtp r.test ok4@r.test",
		"deliver local local.test ok1@local.test", "deliver local local.test ok2@local.test",
	} {
		if !got[w] {
			t.Errorf("no %q in %q", w, e.eventList())
		}
	}
}

// The window arithmetic of Postfix's qmgr_queue.c, step by step.
func TestFeedbackArithmetic(t *testing.T) {
	tr := &transport{destLimit: 20, initConcurrency: 5, posFeedback: feedback{base: 1}, negFeedback: feedback{base: 1}, cohortLimit: 1}
	d := &destQueue{window: 5}
	var windows []int
	for !tr.failed(d, time.Time{}, 0, "4.4.1", "x") {
		windows = append(windows, d.window)
	}
	if fmt.Sprint(windows) != "[4 3 2]" || d.window != 0 {
		t.Errorf("windows %v then %d, want [4 3 2] then 0", windows, d.window)
	}
	tr.alive(d) // a late success revives it
	if d.window != 5 {
		t.Errorf("window %d after revival", d.window)
	}
	// 1/concurrency: the window grows by one per window's worth of
	// successes.
	tr.posFeedback = feedback{base: 1, perConc: true}
	for range 5 {
		tr.alive(d)
	}
	if d.window != 6 {
		t.Errorf("window %d after 5 successes at 1/concurrency, want 6", d.window)
	}
	// Never above the limit.
	tr.posFeedback = feedback{base: 1}
	for range 100 {
		tr.alive(d)
	}
	if d.window != 20 {
		t.Errorf("window %d, want the limit 20", d.window)
	}
	for _, c := range []struct {
		in   string
		want feedback
		ok   bool
	}{{"1", feedback{1, false}, true}, {"1/concurrency", feedback{1, true}, true}, {"1 / 4", feedback{0.25, false}, true}, {"2", feedback{}, false}, {"x", feedback{}, false}} {
		fb, err := parseFeedback(c.in)
		if (err == nil) != c.ok || (c.ok && fb != c.want) {
			t.Errorf("parseFeedback(%q) = %v, %v", c.in, fb, err)
		}
	}
}

func TestSiteFailureClassification(t *testing.T) {
	req := &pb.DeliverRequest{Recipients: []*pb.DeliverRecipient{{Index: 0}, {Index: 1}}}
	for _, c := range []struct {
		name  string
		reply *pb.DeliverReply
		want  bool
	}{
		{"flag", deferAllReply(req, "4.4.1", "host refused to talk to me", true), true},
		{"connect text", deferAllReply(req, "4.4.1", "connect to h[1.2.3.4]:25: Connection timed out", false), true},
		{"per-recipient 4xx", deferAllReply(req, "4.2.0", "host h said: 451 try later", false), false},
		{"success", sentReply(req), false},
		{"mixed", &pb.DeliverReply{Results: []*pb.RecipientResult{
			{Index: 0, Status: pb.DeliveryStatus_DELIVERY_DEFER, Text: "connect to x: refused"},
			{Index: 1, Status: pb.DeliveryStatus_DELIVERY_SENT}}}, false},
	} {
		if got, _, _ := siteFailure(c.reply); got != c.want {
			t.Errorf("%s: site failure %v, want %v", c.name, got, c.want)
		}
	}
	_, _, reason := siteFailure(deferAllReply(req, "4.4.1", "delivery temporarily suspended: connect to x: refused", false))
	if reason != "connect to x: refused" {
		t.Errorf("reason %q", reason)
	}
}

// A rate delay means one delivery at a time per destination.
func TestRateDelayDeliversOneAtATime(t *testing.T) {
	e := newEnv(t, "smtp_destination_recipient_limit = 1\nsmtp_destination_rate_delay = 1s\n")
	var mu sync.Mutex
	inflight, maxSeen := 0, 0
	e.agent = func(ctx context.Context, tr string, req *pb.DeliverRequest) (*pb.DeliverReply, bool) {
		mu.Lock()
		inflight++
		maxSeen = max(maxSeen, inflight)
		mu.Unlock()
		defer func() { mu.Lock(); inflight--; mu.Unlock() }()
		return sentReply(req), true
	}
	// Recipient limit 1: the queue is recipient@nexthop, so one
	// recipient three times in three messages shares it.
	for range 3 {
		e.submit("sender@example.test", "ok1@r.test")
	}
	e.run(queue.Incoming, false)
	if e.agentCalls("r.test") != 3 || maxSeen != 1 {
		t.Errorf("%d calls, at most %d at once, want 3 and 1", e.agentCalls("r.test"), maxSeen)
	}
}
