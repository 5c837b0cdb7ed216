package qmgr

import (
	"fmt"
	"time"

	"postern/pkg/config"
	"postern/pkg/log"
)

// Settings are the main.cf parameters the queue manager obeys, read once
// at start-up (qmgr is long-lived; master restarts it on reload).
type Settings struct {
	QueueRunDelay       time.Duration // queue_run_delay: deferred/ scan period
	MinBackoff          time.Duration // minimal_backoff_time
	MaxBackoff          time.Duration // maximal_backoff_time
	MaxQueueLifetime    time.Duration // maximal_queue_lifetime
	BounceQueueLifetime time.Duration // bounce_queue_lifetime (null sender)
	DelayWarningTime    time.Duration // delay_warning_time; 0 is off
	TransportRetryTime  time.Duration // transport_retry_time
	ActiveLimit         int           // qmgr_message_active_limit

	// IncomingScanInterval is how often incoming/ is scanned without a
	// trigger, a fallback for a lost wakeup (Postfix relies on master's
	// wakeup timer alone).
	IncomingScanInterval time.Duration
	// RecipientBatch is how many recipients of one message are read,
	// resolved and delivered at a time (Postfix's recipient refill), so
	// that a message with a huge recipient list does not fill memory.
	RecipientBatch int

	// RecipientMemoryLimit is qmgr_message_recipient_limit: recipients
	// read from queue files and not yet settled, over all messages.
	RecipientMemoryLimit int

	defaultRecipientLimit int
	defaultConcurrency    int
	initialConcurrency    int
	processLimit          int
	cfg                   *config.Config
}

// LoadSettings reads the settings from c (main.cf plus -o overrides).
func LoadSettings(c *config.Config) (*Settings, error) {
	s := &Settings{IncomingScanInterval: 5 * time.Second, RecipientBatch: 1000, cfg: c}
	for _, t := range []struct {
		name string
		dst  *time.Duration
	}{
		{"queue_run_delay", &s.QueueRunDelay},
		{"minimal_backoff_time", &s.MinBackoff},
		{"maximal_backoff_time", &s.MaxBackoff},
		{"maximal_queue_lifetime", &s.MaxQueueLifetime},
		{"bounce_queue_lifetime", &s.BounceQueueLifetime},
		{"delay_warning_time", &s.DelayWarningTime},
		{"transport_retry_time", &s.TransportRetryTime},
	} {
		d, err := c.Time(t.name)
		if err != nil {
			return nil, err
		}
		*t.dst = d
	}
	for _, t := range []struct {
		name string
		dst  *int
		min  int
	}{
		{"qmgr_message_active_limit", &s.ActiveLimit, 1},
		{"default_destination_recipient_limit", &s.defaultRecipientLimit, 1},
		{"default_destination_concurrency_limit", &s.defaultConcurrency, 1},
		{"default_process_limit", &s.processLimit, 1},
		{"initial_destination_concurrency", &s.initialConcurrency, 1},
		{"qmgr_message_recipient_limit", &s.RecipientMemoryLimit, 1},
	} {
		n, err := c.Int(t.name)
		if err != nil {
			return nil, err
		}
		if int(n) < t.min {
			return nil, fmt.Errorf("invalid %s parameter value %d < %d", t.name, n, t.min)
		}
		*t.dst = int(n)
	}
	// Postfix: "maximal_backoff_time must be >= minimal_backoff_time";
	// a lifetime of 0 means a message gets one delivery attempt.
	if s.MaxBackoff < s.MinBackoff {
		s.MaxBackoff = s.MinBackoff
	}
	return s, nil
}

// transportInt returns TRANSPORT_SUFFIX when main.cf (or the catalogue,
// as for local_destination_recipient_limit = 1) has it, else def.
func (s *Settings) transportInt(transport, suffix string, def int) int {
	if s.cfg == nil {
		return def
	}
	name := transport + "_" + suffix
	if s.cfg.Get(name) == "" {
		return def
	}
	n, err := s.cfg.Int(name)
	if err != nil || n < 1 {
		return def
	}
	return int(n)
}

// RecipientLimit is TRANSPORT_destination_recipient_limit: how many
// recipients go in one delivery request.
func (s *Settings) RecipientLimit(transport string) int {
	return s.transportInt(transport, "destination_recipient_limit", s.defaultRecipientLimit)
}

// ConcurrencyLimit is TRANSPORT_destination_concurrency_limit: parallel
// deliveries to one destination.
func (s *Settings) ConcurrencyLimit(transport string) int {
	return s.transportInt(transport, "destination_concurrency_limit", s.defaultConcurrency)
}

// InitialConcurrency is TRANSPORT_initial_destination_concurrency: the
// window a destination starts with (slow start), at most the
// destination's concurrency limit.
func (s *Settings) InitialConcurrency(transport string) int {
	return min(s.transportInt(transport, "initial_destination_concurrency", s.initialConcurrency), s.ConcurrencyLimit(transport))
}

// FailedCohortLimit is TRANSPORT_destination_concurrency_failed_cohort_limit:
// how many pseudo-cohorts of failed deliveries make a destination dead;
// 0 never declares one dead.
func (s *Settings) FailedCohortLimit(transport string) int {
	for _, name := range []string{transport + "_destination_concurrency_failed_cohort_limit", "default_destination_concurrency_failed_cohort_limit"} {
		if s.cfg == nil || s.cfg.Get(name) == "" {
			continue
		}
		if n, err := s.cfg.Int(name); err == nil && n >= 0 {
			return int(n)
		}
	}
	return 1
}

// Feedback is TRANSPORT_destination_concurrency_positive_feedback (sign
// "positive") or _negative_feedback ("negative").
func (s *Settings) Feedback(transport, sign string) feedback {
	for _, name := range []string{transport + "_destination_concurrency_" + sign + "_feedback", "default_destination_concurrency_" + sign + "_feedback"} {
		if s.cfg == nil {
			break
		}
		v := s.cfg.Get(name)
		if v == "" {
			continue
		}
		fb, err := parseFeedback(v)
		if err != nil {
			log.Warningf("%s: %v; using 1", name, err)
			break
		}
		return fb
	}
	return feedback{base: 1}
}

// RateDelay is TRANSPORT_destination_rate_delay: when positive, one
// delivery at a time per destination, with this pause between them.
func (s *Settings) RateDelay(transport string) time.Duration {
	for _, name := range []string{transport + "_destination_rate_delay", "default_destination_rate_delay"} {
		if s.cfg == nil || s.cfg.Get(name) == "" {
			continue
		}
		if d, err := s.cfg.Time(name); err == nil {
			return d
		}
	}
	return 0
}

// ProcessLimit caps the parallel deliveries of one transport
// (default_process_limit, master.cf's default maxproc).
func (s *Settings) ProcessLimit() int { return s.processLimit }
