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
// recipients. The requests go to the agents (Delivery.Deliver on
// private/TRANSPORT) in parallel, at most
// TRANSPORT_destination_concurrency_limit at a time per destination and
// default_process_limit per transport. A recipient that trivial-rewrite
// could not resolve (a failed table lookup) goes to the retry transport
// ("4.3.0 address resolver failure"), one with bad syntax to the error
// transport ("5.1.3 bad address syntax"), as in Postfix.
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
// This is the basic scheduler. Not yet: slow start and concurrency
// feedback per destination, dead-destination detection
// (failed_cohort_limit), destination rate delay, preemption of bulk jobs,
// in_flow_delay tokens, and recipient limits across messages
// (qmgr_message_recipient_limit); a message's deliveries all finish
// before its next batch of recipients is read.
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
//	default_process_limit           (100) parallel deliveries per transport
//	transport_retry_time            (60s) suspension of an unreachable transport
//	hash_queue_depth, hash_queue_names  the queue directory layout
//	delay_logging_resolution_limit  (2) decimals of logged delays
package qmgr
