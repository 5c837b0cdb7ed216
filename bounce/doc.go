// Package bounce is the bounce(8) daemon: Postern delivery status reports.
//
// SUMMARY
//
//	bounce [generic Postern daemon options]
//
// # DESCRIPTION
//
// bounce keeps, for each message, a log of the recipients whose delivery
// ended (failed, or succeeded with DSN NOTIFY=SUCCESS), and turns that log
// into notifications: non-delivery reports, success notices and delay
// notices. Each is an RFC 3464 multipart/report message in Postfix's
// layout (postern/pkg/dsn), submitted through cleanup(8) from the null
// sender (postmaster copies from double_bounce_sender@$myhostname), with
// the origin "bounce", the rewrite context "local" and the NOTIFY flag.
// master(8) runs it as the services bounce, defer and trace (all on
// private/NAME); the service name is the directory of its logs, as in
// Postfix. It serves the gRPC service Bounce of postern/proto:
//
//   - Append(queue ID, records) adds the records to the log
//     $queue_directory/SERVICE/QUEUEID and answers only when they are
//     on disk (fsync, and a directory fsync for a new log): qmgr marks a
//     bounced recipient done in the queue file after this answer, so a
//     crash never loses the reason of a recipient it no longer delivers.
//   - Flush(queue ID, queue name) reads the log and the original queue
//     file (queue_name/QUEUEID: sender, ENVID, RET, arrival time,
//     encoding, content), sends the notices and removes the log. With no
//     log there is nothing to send (status 0). When cleanup cannot take a
//     non-delivery report the answer is non-zero and the log stays for
//     the next Flush.
//   - Warn(queue ID, queue name) sends one delay notice for the
//     recipients of the queue file that are not done (with NOTIFY DELAY or
//     no NOTIFY), with the delay reasons the queue file keeps (pkg/queue's
//     journal; the status shown is the first 4.X.Y code of the reason,
//     else 4.0.0, and a remote reply "host H[A] said: ..." becomes
//     Remote-MTA and an smtp Diagnostic-Code). Marking the message warned
//     is qmgr's business.
//
// Who is told, as in Postfix 3.7 (bounce_notify_service):
//
//   - Failed recipients (NOTIFY FAILURE or no NOTIFY): a non-delivery
//     report to the sender, with the whole message (RET=FULL or no RET,
//     up to bounce_size_limit) or its headers; logged
//     "QUEUEID: sender non-delivery notification: NEWID". With "bounce"
//     in notify_classes, bounce_notice_recipient also gets a copy with
//     headers only ("postmaster non-delivery notification: NEWID").
//   - A message from the null sender (a bounce that bounced) is never
//     returned to its sender: with "2bounce" or "bounce" in
//     notify_classes 2bounce_notice_recipient gets it, whole; otherwise
//     it is dropped silently, as Postfix does with its default
//     notify_classes.
//   - A failed postmaster notice (sender double_bounce_sender@$myhostname)
//     is discarded: "warning: QUEUEID: undeliverable postmaster
//     notification discarded".
//   - Recipients logged with Action delivered, relayed or expanded and
//     NOTIFY=SUCCESS: a success notice to the sender, headers only
//     ("sender delivery status notification: NEWID"); not for the null
//     sender. Best effort: its failure is logged, not retried.
//   - Delay notices: "sender delay notification: NEWID"; with "delay" in
//     notify_classes a copy to delay_notice_recipient.
//
// # LOG FORMAT
//
// $queue_directory/bounce/QUEUEID (defer/, trace/ for those services),
// mode 0600, one record per line:
//
//	CRC SP JSON LF
//
// CRC is 8 lower-case hex digits of the CRC-32C (Castagnoli) of the JSON
// bytes; JSON is one object on one line (encoding/json escapes control
// characters, so no value can break the line) with the members
//
//	recipient      final recipient address
//	orig_rcpt      original recipient (omitted when empty)
//	dsn_orig_rcpt  DSN ORCPT verbatim, "rfc822;addr"
//	dsn_notify     DSN NOTIFY bits: NEVER 1, SUCCESS 2, FAILURE 4, DELAY 8
//	action         failed, delayed, delivered, relayed, expanded
//	status         RFC 3463 code, "5.1.1"
//	reason         the text logged after status=
//	diag_type      Diagnostic-Code type, "smtp" (omitted: X-Postfix)
//	diag_text      Diagnostic-Code text
//	relay          the relay= value, "mx.example.org[192.0.2.1]:25"
//	time_us        when, microseconds since the epoch
//	index          recipient number in the queue file
//
// for example
//
//	a27608ff {"index":0,"recipient":"a@example.org","action":"failed","status":"5.1.1","reason":"unknown user: \"a\""}
//
// Writers append whole lines with one write(2) under an exclusive flock(2)
// and fsync. A last line without LF is a write torn by a crash: readers
// ignore it, and the next writer ends it with an LF first so that it
// spoils no new record. A line whose checksum or JSON is bad is skipped
// with a warning. Flush holds the lock while it reads, sends and removes
// the log; an Append that waited for the lock sees the log gone and
// starts a new one, so no record lands in a removed file.
//
// # SECURITY
//
// bounce runs unprivileged (mail_owner) in queue_directory, reached only
// through private/. It trusts its clients (qmgr) for the records, but
// checks that queue IDs and queue names are plain names, so that no
// request reaches outside the queue directory. Text from remote servers
// (replies, addresses) is shown with control characters replaced by "?"
// so that it cannot add header lines or MIME boundaries to a report.
//
// # DIAGNOSTICS
//
// Problems and transactions are logged (pkg/log). A request that cannot be
// served is answered with a non-zero status and a text; the caller tries
// again later.
//
// # BUGS
//
// bounce_template_file is not read: the texts are Postfix's default
// templates. VERP bounces, sendmail -bv/-v trace reports and
// confirm_delay_cleared are not implemented.
//
// CONFIGURATION PARAMETERS
//
//	2bounce_notice_recipient  (postmaster) gets undeliverable bounces
//	bounce_notice_recipient   (postmaster) gets copies with notify_classes bounce
//	bounce_size_limit         (50000) larger originals are returned as headers
//	delay_notice_recipient    (postmaster) gets delay copies with notify_classes delay
//	delay_warning_time        (0h) the hours shown in delay notices
//	double_bounce_sender      (double-bounce) sender of postmaster notices
//	hash_queue_depth, hash_queue_names  where the original queue file is
//	mail_name                 (Postern) shown in the Received: header
//	maximal_queue_lifetime    (5d) Will-Retry-Until and the delay text
//	myhostname, myorigin      the reporting host, MAILER-DAEMON's domain
//	notify_classes            (resource, software) bounce, 2bounce, delay
package bounce
