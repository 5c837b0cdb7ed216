package qmgr

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"postern/pkg/queue"
	"postern/pkg/trigger"
)

func wantLog(t *testing.T, e *env, pattern string) {
	t.Helper()
	if !regexp.MustCompile(pattern).MatchString(e.log()) {
		t.Errorf("log does not match %q:\n%s", pattern, e.log())
	}
}

func wantEvents(t *testing.T, e *env, want ...string) {
	t.Helper()
	got := e.eventList()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestDeliveredMessageIsRemoved(t *testing.T) {
	e := newEnv(t, "")
	id := e.submit("sender@example.test", "ok2@remote.test", "ok1@remote.test", "ok3@local.test", "ok4@local.test")
	e.run(queue.Incoming, false)
	if st := e.state(id); st != "gone" {
		t.Fatalf("message in %s", st)
	}
	// One resolve call for the batch; smtp recipients in one request,
	// sorted; local (recipient limit 1) one request per recipient; no
	// bounce flush when nothing bounced.
	got := e.eventList()
	if len(got) != 4 || got[0] != "resolve ok2@remote.test,ok1@remote.test,ok3@local.test,ok4@local.test" {
		t.Fatalf("events %q", got)
	}
	want := map[string]bool{
		"deliver smtp remote.test ok1@remote.test,ok2@remote.test": true,
		"deliver local local.test ok3@local.test":                  true,
		"deliver local local.test ok4@local.test":                  true,
	}
	for _, ev := range got[1:] {
		if !want[ev] {
			t.Errorf("unexpected event %q", ev)
		}
	}
	wantLog(t, e, `postern/qmgr\[\d+\]: `+id+`: from=<sender@example.test>, size=20, nrcpt=4 \(queue active\)\n`)
	wantLog(t, e, `postern/qmgr\[\d+\]: `+id+`: removed\n`)
}

func TestBouncedRecipientIsAppendedBeforeDoneAndFlushedBeforeRemoval(t *testing.T) {
	e := newEnv(t, "")
	id := e.submit("sender@example.test", "rej1@remote.test", "ok1@remote.test")
	e.run(queue.Incoming, false)
	if st := e.state(id); st != "gone" {
		t.Fatalf("message in %s", st)
	}
	wantEvents(t, e,
		"resolve rej1@remote.test,ok1@remote.test",
		"deliver smtp remote.test ok1@remote.test,rej1@remote.test",
		"append rej1@remote.test:failed:5.1.1:user unknown",
		"flush active",
	)
	wantLog(t, e, id+`: removed\n`)
}

func TestDeferredMessageWaitsInDeferredWithRetryTimeAndReason(t *testing.T) {
	e := newEnv(t, "minimal_backoff_time = 300s\nmaximal_backoff_time = 4000s\n")
	id := e.submit("sender@example.test", "tmp1@remote.test", "ok1@remote.test")
	e.run(queue.Incoming, false)
	if st := e.state(id); st != queue.Deferred {
		t.Fatalf("message in %s", st)
	}
	_, path, _ := e.q.Find(id)
	st, _ := os.Stat(path)
	if retry := st.ModTime(); retry.Before(e.now().Add(299 * time.Second)) {
		t.Errorf("retry time %v is not now+300s (now %v)", retry, e.now())
	}
	rs := e.recipients(id)
	if rs[0].Done || rs[0].DelayReason != "try again later" || !rs[1].Done {
		t.Errorf("recipients %+v", rs)
	}
	// Not yet due: a deferred scan leaves it alone.
	e.run(queue.Deferred, false)
	if n := len(e.eventList()); n != 2 {
		t.Fatalf("deferred message taken before its time: %q", e.eventList())
	}
	// A flush ('A') takes it now; the delivered recipient is not tried
	// again, and the old reason is replaced.
	e.advance(10 * time.Second)
	e.run(queue.Deferred, true)
	got := e.eventList()
	if len(got) != 4 || got[3] != "deliver smtp remote.test tmp1@remote.test" {
		t.Fatalf("events after flush %q", got)
	}
	if st := e.state(id); st != queue.Deferred {
		t.Fatalf("message in %s", st)
	}
	// Once its time has come, a normal deferred scan takes it.
	e.advance(time.Hour)
	e.run(queue.Deferred, false)
	if n := len(e.eventList()); n != 6 {
		t.Fatalf("deferred message not retried when due: %q", e.eventList())
	}
	if strings.Contains(e.log(), "removed") {
		t.Errorf("deferred message logged removed")
	}
}

func TestRetryTimeIsAgeClampedToBackoffBounds(t *testing.T) {
	e := newEnv(t, "minimal_backoff_time = 300s\nmaximal_backoff_time = 1000s\n")
	id := e.submit("", "tmp1@remote.test")
	for _, tc := range []struct {
		age  time.Duration
		want time.Duration
	}{{0, 300 * time.Second}, {600 * time.Second, 600 * time.Second}, {3 * time.Hour, 1000 * time.Second}} {
		_, path, _ := e.q.Find(id)
		f, _ := queue.Open(path)
		arrival := f.ArrivalTime()
		f.Close()
		e.mu.Lock()
		e.clock = arrival.Add(tc.age)
		e.mu.Unlock()
		e.run(queue.Deferred, true)
		e.run(queue.Incoming, false)
		_, path, _ = e.q.Find(id)
		st, _ := os.Stat(path)
		if got := st.ModTime().Sub(e.now()); got < tc.want-time.Second || got > tc.want+time.Second {
			t.Errorf("age %v: retry in %v, want %v", tc.age, got, tc.want)
		}
	}
}

func TestExpiredMessageIsReturnedWithLastTemporaryStatus(t *testing.T) {
	e := newEnv(t, "maximal_queue_lifetime = 1d\n")
	id := e.submit("sender@example.test", "tmp1@remote.test", "ok1@remote.test")
	e.run(queue.Incoming, false)
	e.advance(25 * time.Hour)
	e.run(queue.Deferred, false)
	if st := e.state(id); st != "gone" {
		t.Fatalf("message in %s", st)
	}
	got := e.eventList()
	want := []string{"deliver smtp remote.test tmp1@remote.test", "append tmp1@remote.test:failed:4.2.0:try again later", "flush active"}
	if len(got) < 3 || strings.Join(got[len(got)-3:], "|") != strings.Join(want, "|") {
		t.Fatalf("events %q", got)
	}
	wantLog(t, e, id+`: from=<sender@example.test>, status=expired, returned to sender\n`)
	wantLog(t, e, id+`: removed\n`)
}

func TestNullSenderUsesBounceQueueLifetime(t *testing.T) {
	e := newEnv(t, "maximal_queue_lifetime = 5d\nbounce_queue_lifetime = 1h\n")
	id := e.submit("", "tmp1@remote.test")
	e.run(queue.Incoming, false)
	e.advance(2 * time.Hour)
	e.run(queue.Deferred, false)
	if st := e.state(id); st != "gone" {
		t.Fatalf("message in %s", st)
	}
	wantLog(t, e, id+`: from=<>, status=expired, returned to sender\n`)
}

func TestForceExpiredMessageIsReturnedWithoutDelivery(t *testing.T) {
	e := newEnv(t, "")
	id := e.submit("sender@example.test", "tmp1@remote.test")
	e.run(queue.Incoming, false)
	_, path, _ := e.q.Find(id)
	f, err := queue.OpenRW(path)
	if err != nil {
		t.Fatal(err)
	}
	f.SetForcedExpire(true)
	f.Close()
	n := len(e.eventList())
	e.run(queue.Deferred, true)
	got := e.eventList()[n:]
	wantList := []string{"append tmp1@remote.test:failed:4.0.0:try again later", "flush active"}
	if strings.Join(got, "|") != strings.Join(wantList, "|") {
		t.Fatalf("events %q", got)
	}
	wantLog(t, e, id+`: from=<sender@example.test>, status=force-expired, returned to sender\n`)
	if st := e.state(id); st != "gone" {
		t.Fatalf("message in %s", st)
	}
}

func TestCorruptFileGoesToCorrupt(t *testing.T) {
	e := newEnv(t, "")
	id := e.submit("sender@example.test", "ok1@remote.test")
	path := e.q.Path(queue.Incoming, id)
	b, _ := os.ReadFile(path)
	b[70] ^= 0xff // inside the envelope records
	os.WriteFile(path, b, 0o700)
	junk := filepath.Join(e.dir, "incoming", "ABCDEF123")
	os.WriteFile(junk, []byte("not a queue file at all"), 0o700)
	e.run(queue.Incoming, false)
	for _, x := range []string{id, "ABCDEF123"} {
		if st := e.state(x); st != queue.Corrupt {
			t.Errorf("%s in %s, want corrupt", x, st)
		}
	}
	if len(e.eventList()) != 0 {
		t.Errorf("corrupt file delivered: %q", e.eventList())
	}
	// A second pass finds nothing to do: no loop.
	e.run(queue.Incoming, false)
	if len(e.eventList()) != 0 {
		t.Errorf("events %q", e.eventList())
	}
}

func TestActiveLeftoversAfterCrashAreDeliveredOnce(t *testing.T) {
	e := newEnv(t, "")
	id := e.submit("sender@example.test", "ok1@remote.test", "ok2@remote.test")
	// A previous qmgr delivered ok1, marked it done and died.
	path, err := e.q.Move(id, queue.Incoming, queue.Active)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := queue.OpenRW(path)
	f.MarkDone(0)
	f.Close()
	e.m.Recover()
	if st := e.state(id); st != queue.Incoming {
		t.Fatalf("after recovery in %s", st)
	}
	e.run(queue.Incoming, false)
	e.run(queue.Incoming, false)
	if e.delivered["ok1@remote.test"] != 0 || e.delivered["ok2@remote.test"] != 1 {
		t.Errorf("deliveries %v", e.delivered)
	}
	if st := e.state(id); st != "gone" {
		t.Fatalf("message in %s", st)
	}
	// The bounce log of the crashed run, if any, is flushed.
	if got := e.eventList(); got[len(got)-1] != "flush active" {
		t.Errorf("events %q", got)
	}
}

func TestResolveFlagsAndUnknownTransport(t *testing.T) {
	e := newEnv(t, "")
	id := e.submit("sender@example.test", "bad1@remote.test", "fail1@remote.test", "gone@remote.test", "err@remote.test")
	e.run(queue.Incoming, false)
	got := strings.Join(e.eventList(), "\n")
	for _, w := range []string{
		"deliver error 5.1.3 bad address syntax bad1@remote.test",
		"deliver retry 4.3.0 address resolver failure fail1@remote.test",
		"deliver error 5.1.1 no such user here err@remote.test",
		"append bad1@remote.test:failed:5.0.0:5.1.3 bad address syntax",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("no event %q in\n%s", w, got)
		}
	}
	wantLog(t, e, `qmgr\[\d+\]: warning: connect to transport private/nosuchagent: `)
	wantLog(t, e, id+`: to=<gone@remote.test>, relay=none, delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/0/0, dsn=4.3.0, status=deferred \(mail transport unavailable\)\n`)
	if st := e.state(id); st != queue.Deferred {
		t.Fatalf("message in %s", st)
	}
	rs := e.recipients(id)
	if !rs[0].Done || rs[1].Done || rs[1].DelayReason != "4.3.0 address resolver failure" || rs[2].Done || rs[2].DelayReason != "mail transport unavailable" || !rs[3].Done {
		t.Errorf("recipients %+v", rs)
	}
}

func TestBounceServiceFailureKeepsRecipient(t *testing.T) {
	e := newEnv(t, "")
	e.failBounce = true
	id := e.submit("sender@example.test", "rej1@remote.test")
	e.run(queue.Incoming, false)
	if st := e.state(id); st != queue.Deferred {
		t.Fatalf("message in %s", st)
	}
	if rs := e.recipients(id); rs[0].Done || rs[0].DelayReason != "user unknown" {
		t.Errorf("recipients %+v", rs)
	}
	// Bounce is back: the retry bounces it and removes the message.
	e.mu.Lock()
	e.failBounce = false
	e.mu.Unlock()
	e.run(queue.Deferred, true)
	if st := e.state(id); st != "gone" {
		t.Fatalf("message in %s", st)
	}
}

func TestFlushFailureLeavesMessageToRetryTheFlush(t *testing.T) {
	e := newEnv(t, "")
	id := e.submit("sender@example.test", "rej1@remote.test")
	// Append works, Flush fails.
	e.run(queue.Incoming, false)
	if st := e.state(id); st != "gone" {
		t.Fatalf("message in %s", st)
	}
	id = e.submit("sender@example.test", "rej2@remote.test")
	e.mu.Lock()
	e.failBounce = true
	e.mu.Unlock()
	e.run(queue.Incoming, false)
	if st := e.state(id); st != queue.Deferred {
		t.Fatalf("message in %s", st)
	}
	e.mu.Lock()
	e.failBounce = false
	e.mu.Unlock()
	n := len(e.eventList())
	e.run(queue.Deferred, true)
	if st := e.state(id); st != "gone" {
		t.Fatalf("message in %s", st)
	}
	got := e.eventList()[n:]
	if len(got) == 0 || got[len(got)-1] != "flush active" {
		t.Errorf("events %q", got)
	}
}

func TestDelayWarningIsSentOnce(t *testing.T) {
	e := newEnv(t, "delay_warning_time = 1h\n")
	id := e.submit("sender@example.test", "tmp1@remote.test")
	e.run(queue.Incoming, false)
	e.advance(2 * time.Hour)
	e.run(queue.Deferred, false)
	e.advance(2 * time.Hour)
	e.run(queue.Deferred, false)
	warns := 0
	for _, ev := range e.eventList() {
		if ev == "warn active" {
			warns++
		}
	}
	if warns != 1 {
		t.Errorf("%d delay warnings, want 1: %q", warns, e.eventList())
	}
	if st := e.state(id); st != queue.Deferred {
		t.Fatalf("message in %s", st)
	}
}

func TestRecipientLimitSplitsRequests(t *testing.T) {
	e := newEnv(t, "smtp_destination_recipient_limit = 2\n")
	e.submit("sender@example.test", "ok5@r.test", "ok4@r.test", "ok3@r.test", "ok2@r.test", "ok1@r.test")
	e.run(queue.Incoming, false)
	got := map[string]bool{}
	for _, ev := range e.eventList()[1:] {
		got[ev] = true
	}
	for _, w := range []string{"deliver smtp r.test ok1@r.test,ok2@r.test", "deliver smtp r.test ok3@r.test,ok4@r.test", "deliver smtp r.test ok5@r.test"} {
		if !got[w] {
			t.Errorf("no %q in %q", w, e.eventList())
		}
	}
}

// With qmgr_message_recipient_limit = 2 the third recipient is read only
// once the first request's results are recorded.
func TestRecipientBatchesBoundMemory(t *testing.T) {
	e := newEnv(t, "qmgr_message_recipient_limit = 2\n")
	e.m.S.RecipientBatch = 2
	id := e.submit("sender@example.test", "ok1@r.test", "ok2@r.test", "ok3@r.test")
	e.run(queue.Incoming, false)
	wantEvents(t, e,
		"resolve ok1@r.test,ok2@r.test", "deliver smtp r.test ok1@r.test,ok2@r.test",
		"resolve ok3@r.test", "deliver smtp r.test ok3@r.test")
	if st := e.state(id); st != "gone" {
		t.Fatalf("message in %s", st)
	}
}

func TestTriggersDriveTheSchedulerLoop(t *testing.T) {
	e := newEnv(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.m.Run(ctx) }()
	defer func() { cancel(); <-done }()

	id := e.submit("sender@example.test", "tmp1@remote.test")
	e.m.Trigger([]byte{trigger.Incoming})
	waitFor(t, func() bool { return e.state(id) == queue.Deferred })
	e.m.Trigger([]byte{trigger.Flush, trigger.ScanAll, trigger.Deferred})
	waitFor(t, func() bool {
		n := 0
		for _, ev := range e.eventList() {
			if strings.HasPrefix(ev, "deliver") {
				n++
			}
		}
		return n == 2
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not reached")
}

func TestDiscardAgentEndToEnd(t *testing.T) {
	e := newEnv(t, "")
	id := e.submit("sender@example.test", "x@discard.test")
	e.run(queue.Incoming, false)
	if st := e.state(id); st != "gone" {
		t.Fatalf("message in %s", st)
	}
	wantLog(t, e, id+`: to=<x@discard.test>, relay=none, delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/0/[0-9.]+, dsn=2.0.0, status=sent \(thrown away\)\n`)
	wantLog(t, e, id+`: removed\n`)
}

func TestActiveLimitStillDeliversEverything(t *testing.T) {
	e := newEnv(t, "qmgr_message_active_limit = 1\n")
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, e.submit("sender@example.test", "ok1@r.test"))
	}
	e.run(queue.Incoming, false)
	for _, id := range ids {
		if st := e.state(id); st != "gone" {
			t.Errorf("%s in %s", id, st)
		}
	}
	if e.delivered["ok1@r.test"] != 5 {
		t.Errorf("deliveries %v", e.delivered)
	}
}

func TestIncompleteFileIsLeftAlone(t *testing.T) {
	e := newEnv(t, "")
	path := filepath.Join(e.dir, "incoming", "ABCDEF124")
	os.WriteFile(path, []byte("being written"), 0o600)
	e.run(queue.Incoming, false)
	if st := e.state("ABCDEF124"); st != queue.Incoming {
		t.Errorf("incomplete file moved to %s", st)
	}
}
