package qmgr

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	pb "postern/proto"
)

// Concurrency feedback, after Postfix's qmgr_feedback.c and
// qmgr_queue.c. Each destination queue has a window: how many deliveries
// to it may run at once. It starts at initial_destination_concurrency;
// every delivery that completes without a site failure adds the positive
// feedback to an accumulator, and each time that reaches 1 the window
// grows by one, up to TRANSPORT_destination_concurrency_limit (slow
// start). Every delivery that fails as a whole (see siteFailure)
// subtracts the negative feedback, and the window shrinks by one at the
// start of each cycle, never below 1. Failures also add 1/window to the
// queue's failed pseudo-cohorts; when those reach
// TRANSPORT_destination_concurrency_failed_cohort_limit the destination is
// dead (window 0). A success resets the failed cohorts.

// A feedback is a feedback parameter's value: a constant ("1") or one
// divided by the window ("1/concurrency").
type feedback struct {
	base    float64
	perConc bool
}

// parseFeedback reads "N", "N/M" or "N/concurrency"; the value must lie
// in (0, 1], as Postfix requires.
func parseFeedback(s string) (feedback, error) {
	var fb feedback
	num, den, slash := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil {
		return fb, fmt.Errorf("bad feedback value %q", s)
	}
	fb.base = n
	if slash {
		den = strings.TrimSpace(den)
		if den == "concurrency" {
			fb.perConc = true
		} else if d, err := strconv.ParseFloat(den, 64); err == nil && d > 0 {
			fb.base /= d
		} else {
			return fb, fmt.Errorf("bad feedback value %q", s)
		}
	}
	if !(fb.base > 0 && fb.base <= 1) {
		return fb, fmt.Errorf("feedback value %q out of range (0, 1]", s)
	}
	return fb, nil
}

func (fb feedback) value(window int) float64 {
	if fb.perConc {
		return fb.base / float64(max(window, 1))
	}
	return fb.base
}

// An outcome is what a finished delivery request tells the scheduler
// about its destination.
type outcome int

const (
	outcomeNone    outcome = iota // no answer (agent unreachable): no feedback
	outcomeAlive                  // the destination took part: positive feedback
	outcomeFailure                // site failure: negative feedback
)

// siteFailurePrefixes start the texts of deferrals that mean the
// destination as a whole failed, for agents that do not set
// DeliverReply.site_failure: Postfix's smtp wording for connection and
// session failures.
var siteFailurePrefixes = []string{"connect to ", "lost connection ", "conversation with ", "delivery temporarily suspended"}

// siteFailure classifies a reply. It is a failed delivery attempt (a
// site failure) when the agent says so (site_failure), or when every
// recipient was deferred with a text that starts with one of
// siteFailurePrefixes. A per-recipient 4xx, a bounce or a success is a
// sign of life. For a failure it returns the status and reason that
// recipients deferred because the destination is dead get.
func siteFailure(reply *pb.DeliverReply) (failed bool, dsn, reason string) {
	rs := reply.GetResults()
	if reply.GetSiteFailure() {
		reason = reply.GetSiteFailureText()
		if len(rs) > 0 {
			dsn = rs[0].GetDsn()
			if reason == "" {
				reason = rs[0].GetText()
			}
		}
	} else {
		if len(rs) == 0 {
			return false, "", ""
		}
		for _, r := range rs {
			if r.GetStatus() != pb.DeliveryStatus_DELIVERY_DEFER || !hasSiteFailurePrefix(r.GetText()) {
				return false, "", ""
			}
		}
		dsn, reason = rs[0].GetDsn(), rs[0].GetText()
	}
	if dsn == "" || dsn[0] != '4' {
		dsn = "4.4.1"
	}
	// Do not stack "delivery temporarily suspended: " prefixes.
	for {
		r, ok := strings.CutPrefix(reason, textSuspended+": ")
		if !ok {
			break
		}
		reason = r
	}
	return true, dsn, reason
}

func hasSiteFailurePrefix(text string) bool {
	for _, p := range siteFailurePrefixes {
		if strings.HasPrefix(text, p) {
			return true
		}
	}
	return false
}

// alive is Postfix's qmgr_queue_unthrottle: a delivery completed without
// a site failure. Called with t.mu held.
func (t *transport) alive(d *destQueue) {
	d.failCohorts = 0
	if d.window == 0 {
		t.resume(d)
		return
	}
	if t.destLimit > d.window {
		fb := t.posFeedback.value(d.window)
		d.success += fb
		// Prepare for overshoot (feedback > hysteresis, rounding).
		for d.success+fb/2 >= 1 {
			d.window++
			d.success--
			d.failure = 0
		}
		d.window = min(d.window, t.destLimit)
	}
}

// failed is Postfix's qmgr_queue_throttle: a delivery failed as a whole.
// It reports whether the destination was declared dead by this failure.
// Called with t.mu held.
func (t *transport) failed(d *destQueue, now time.Time, deadTime time.Duration, dsn, reason string) bool {
	if d.window <= 0 {
		return false // already dead
	}
	d.failCohorts += 1 / float64(d.window)
	if t.cohortLimit > 0 && d.failCohorts >= float64(t.cohortLimit) {
		d.window = 0
		d.deadUntil = now.Add(deadTime)
		d.deadDSN, d.deadReason = dsn, reason
		return true
	}
	fb := t.negFeedback.value(d.window)
	d.failure -= fb
	for d.failure+fb/2 < 0 {
		d.window--
		d.success = 0
		d.failure++
	}
	d.window = max(d.window, 1)
	return false
}

// resume brings a dead destination back with the initial window.
// Called with t.mu held.
func (t *transport) resume(d *destQueue) {
	d.window = t.initConcurrency
	d.success, d.failure, d.failCohorts = 0, 0, 0
	d.deadUntil = time.Time{}
	d.deadDSN, d.deadReason = "", ""
}
