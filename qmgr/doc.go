// Package qmgr is the qmgr(8) daemon: Postern queue manager.
//
// SUMMARY
//
//	qmgr [generic daemon options]   (master.cf service "qmgr", type unix,
//	                                 wakeup 300, maxproc 1)
//
// # DESCRIPTION
//
// qmgr moves mail from incoming/ and deferred/ into active/, has each
// message delivered by the delivery agents, and then removes it, moves it
// to deferred/ for a later attempt, or returns it to the sender.
//
// Wakeups arrive on public/qmgr as Postfix trigger bytes (pkg/trigger):
// 'I' or 'W' scan incoming/ now (cleanup sends it after each new message),
// 'D' scan deferred/, 'A' scan deferred/ taking every message whatever its
// retry time (postqueue -f, sendmail -q), 'F' forget suspended transports.
// Besides, incoming/ is scanned every few seconds and on master's wakeup,
// and deferred/ every queue_run_delay, so a lost trigger only delays mail.
//
// At start, files left in active/ by a qmgr that died are moved back to
// incoming/, as Postfix does; their recipients marked done in the file are
// not delivered again. hold/ is never scanned.
//
// A scan reads its directory in batches (pkg/queue.Scan) and takes only
// complete files (owner-execute bit) and, in deferred/, files whose
// retry time (their mtime, queue.SetRetryTime) has come. At most
// qmgr_message_active_limit messages are in active/ at once: the scan
// waits for a free place, so memory does not grow with the queue.
//
// # A MESSAGE IN active/
//
// The file is opened (a damaged one goes to corrupt/, with a warning, and
// is never tried again), logged as Postfix does,
//
//	QUEUEID: from=<sender@example.org>, size=285, nrcpt=1 (queue active)
//
// and its recipients not yet done are read in batches. Each batch is
// resolved with one call to trivial-rewrite (private/rewrite), grouped per
// transport and destination (the next hop; recipient@nexthop for a
// transport whose recipient limit is 1, such as local), sorted as Postfix
// sorts them (transport, destination, domain, address) and cut into
// delivery requests of at most TRANSPORT_destination_recipient_limit
// (default_destination_recipient_limit) recipients. Each request waits in
// its own goroutine for a slot of its destination and of its transport
// (default_process_limit), then goes to the agent (Delivery.Deliver on
// private/TRANSPORT). The next batch is read at once, without waiting for
// the deliveries of the previous ones; what bounds memory is
// qmgr_message_recipient_limit, the number of recipients read from all
// queue files and not yet settled (a message that finds none free sends
// on what it has read and waits for its own or others' results). A
// recipient that trivial-rewrite could not resolve (a failed table
// lookup) goes to the retry transport ("4.3.0 address resolver
// failure"), one with bad syntax to the error transport ("5.1.3 bad
// address syntax"), as in Postfix.
//
// # CONCURRENCY AND DEAD DESTINATIONS
//
// Each destination has a concurrency window, as in Postfix's qmgr. It
// starts at TRANSPORT_initial_destination_concurrency (5, at most the
// limit) and, after every delivery that did not fail as a whole, gains
// TRANSPORT_destination_concurrency_positive_feedback ("1", or
// "1/concurrency": one per window's worth of successes); whenever that
// adds up to one the window grows by one, up to
// TRANSPORT_destination_concurrency_limit (slow start). A failed delivery
// takes TRANSPORT_destination_concurrency_negative_feedback off, the
// window shrinking by one at the start of each cycle, never below 1. A
// destination is forgotten, window and all, when no request for it is
// left, unless it is dead.
//
// A delivery failed as a whole when the agent's reply says site_failure
// (smtp: every address failed to connect, at the greeting, HELO/EHLO or
// TLS handshake), or, for an agent that does not set it, when every
// recipient was deferred with a text that begins "connect to ", "lost
// connection ", "conversation with " or "delivery temporarily
// suspended". A per-recipient 4xx or 5xx, or a success, is a sign of
// life. An agent that cannot be reached gives no feedback (it suspends
// the transport, below).
//
// Every failed delivery adds 1/window to the destination's failed
// pseudo-cohorts (a sign of life clears them); when they reach
// TRANSPORT_destination_concurrency_failed_cohort_limit (1; 0 never) the
// destination is dead: with the defaults, after four failures in a row
// (windows 5, 4, 3, 2). Its waiting requests, and new recipients for it,
// are then deferred without contacting the agent, with the failure's
// status and "delivery temporarily suspended: REASON":
//
//	QUEUEID: to=<u@example.org>, relay=none, delay=0.2, delays=0.2/0/0/0,
//	    dsn=4.4.1, status=deferred (delivery temporarily suspended:
//	    connect to example.org[192.0.2.1]:25: Connection refused)
//
// until minimal_backoff_time has passed, or a flush ('F' trigger:
// postqueue -f, sendmail -q) forgets every dead destination; it then
// starts again from the initial window. Dead destinations are
// remembered only that long. With TRANSPORT_destination_rate_delay set,
// a destination gets one delivery at a time with that pause after each.
//
// One slow or dead destination stalls nothing else: its requests wait on
// its own window, messages and their recipient batches are handled side
// by side, and only the transport's process limit is shared.
//
// The agents log each recipient's result; qmgr records it:
//
//   - delivered: marked done in the queue file, durably, before anything
//     else happens to the message (with NOTIFY=SUCCESS, a success record
//     is first appended to the bounce log);
//   - bounced: appended to the bounce log (Bounce.Append on
//     private/bounce, durable when it returns), and only then marked done;
//     if the bounce service fails, the recipient is deferred instead;
//   - deferred: the reason is recorded in the queue file for postqueue -p.
//
// An agent that cannot be reached, or whose call fails, suspends its
// transport for transport_retry_time with a warning; its recipients, and
// those for the same transport meanwhile, are deferred and logged by qmgr:
//
//	QUEUEID: to=<u@example.org>, relay=none, delay=0.01, delays=0.01/0/0/0,
//	    dsn=4.3.0, status=deferred (mail transport unavailable)
//
// When no recipient is left, the bounce service sends the non-delivery
// report of what bounced (Bounce.Flush; when that fails the message is
// kept and the flush tried again later), and the file is removed:
// "QUEUEID: removed".
//
// When recipients were deferred, the message goes to deferred/ with the
// retry time now + its age, clamped to [minimal_backoff_time,
// maximal_backoff_time], so that the interval roughly doubles. When a
// message is retried the old delay reasons are cleared first. Once a
// message with deferred recipients is older than maximal_queue_lifetime
// (bounce_queue_lifetime for the null sender), or when postsuper -e has
// force-expired it (then without a further delivery attempt), every
// recipient left is returned to the sender with Action failed, its last
// temporary status and its last reason, and qmgr logs
//
//	QUEUEID: from=<sender@example.org>, status=expired, returned to sender
//
// (status=force-expired for postsuper -e). With delay_warning_time set,
// the sender gets one delay notice (Bounce.Warn) once the message is that
// old, recorded in the queue file so that it is sent once.
//
// # SECURITY
//
// qmgr runs unprivileged as mail_owner in queue_directory (master.cf
// unpriv y). It trusts the queue files it reads only as far as pkg/queue
// checks them; wakeup clients on public/qmgr can only ask for scans.
//
// # DIAGNOSTICS
//
// Problems are logged as "postern/qmgr[PID]: warning: ...". Corrupt files
// are moved to corrupt/ with a warning that says why.
//
// # BUGS
//
// Not yet as in Postfix: preemption of bulk jobs and delivery slots
// (default_delivery_slot_cost and friends), per-transport in-memory
// recipient limits (default_recipient_limit, extra_recipient_limit,
// qmgr_message_recipient_minimum), in_flow_delay tokens. Requests waiting
// for a destination are served in no set order, not round-robin over
// messages. A message stays in active/ until every one of its requests is
// done, so a hanging destination keeps that message (not others) there.
//
// CONFIGURATION PARAMETERS
//
//	queue_run_delay                 (300s) deferred/ scan period
//	minimal_backoff_time            (300s) shortest retry interval
//	maximal_backoff_time            (4000s) longest retry interval
//	maximal_queue_lifetime          (5d) then a message is returned
//	bounce_queue_lifetime           (5d) the same for the null sender
//	delay_warning_time              (0h) send a delay notice; 0: never
//	qmgr_message_active_limit       (20000) messages in active/
//	default_destination_recipient_limit, TRANSPORT_destination_recipient_limit
//	                                (50; local 1) recipients per request
//	default_destination_concurrency_limit, TRANSPORT_destination_concurrency_limit
//	                                (20; local 2) parallel deliveries per destination
//	initial_destination_concurrency, TRANSPORT_initial_destination_concurrency
//	                                (5) starting window of a destination
//	default_destination_concurrency_positive_feedback, TRANSPORT_...
//	                                (1) window growth per success
//	default_destination_concurrency_negative_feedback, TRANSPORT_...
//	                                (1) window shrinkage per failure
//	default_destination_concurrency_failed_cohort_limit, TRANSPORT_...
//	                                (1) failed cohorts that make it dead
//	default_destination_rate_delay, TRANSPORT_destination_rate_delay
//	                                (0s) pause between deliveries
//	qmgr_message_recipient_limit    (20000) recipients in memory
//	default_process_limit           (100) parallel deliveries per transport
//	transport_retry_time            (60s) suspension of an unreachable transport
//	hash_queue_depth, hash_queue_names  the queue directory layout
//	delay_logging_resolution_limit  (2) decimals of logged delays
package qmgr
