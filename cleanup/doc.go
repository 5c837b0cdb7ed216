// Package cleanup is the cleanup(8) daemon: canonicalise and enqueue
// Postern mail.
//
// SUMMARY
//
//	cleanup [generic daemon options]
//
// # DESCRIPTION
//
// cleanup serves the Cleanup gRPC service (proto/mail.proto) on
// private/cleanup. Every new message enters the queue through it: from
// smtpd(8), from pickup(8) (local submissions through maildrop/), from
// bounce(8) notifications and from local(8) forwarding. One Submit call
// is one message:
//
//   - On the envelope, cleanup creates the queue file (postern/pkg/queue)
//     in incoming/, or in hold/ with SUBMIT_FLAG_HOLD; with
//     SUBMIT_FLAG_DISCARD it creates nothing and throws the message away.
//     It answers at once with the queue ID (a discarded message gets an ID
//     of the same form that names no file).
//
//   - The envelope sender and the recipients are rewritten by
//     trivial-rewrite(8) (private/rewrite, context "local", one batched
//     request for what the message has not rewritten yet). A sender that
//     becomes MAILER-DAEMON@$myorigin becomes the null sender. Duplicate
//     recipients are dropped: two recipients are the same when their DSN
//     ORCPT, NOTIFY, original recipient and final address are all the
//     same (enable_original_recipient = yes), so one final address reached
//     from two originals is kept twice. Recipients sent before the first
//     content go into the envelope section; those sent after it, and the
//     recipients that sendmail -t extracted, into the extracted section.
//
//   - The content is streamed, never held whole in memory, through header
//     processing (postern/pkg/header): the primary header block ends at
//     the first line that is neither a header nor a continuation; a header
//     longer than header_size_limit is truncated. Received: headers are
//     counted, and hopcount_limit of them reject the message. Message-Id:
//     and Resent-Message-Id: are logged. Headers named in
//     message_drop_headers (Bcc, Resent-Bcc, Content-Length, Return-Path by
//     default) are removed, in every context.
//
//   - In the local rewrite context (pickup, sendmail, bounce, forwarding;
//     not mail from remote SMTP clients, reference README item 11): the
//     addresses of the sender headers (From, Sender, Reply-To, Errors-To,
//     Resent-From, Resent-Sender, Return-Receipt-To,
//     Disposition-Notification-To, Mail-Followup-To) and recipient headers
//     (To, Cc, Apparently-To, Resent-To, Resent-Cc, Resent-Reply-To) are
//     rewritten and the header regenerated and folded as Postfix does;
//     other headers pass unchanged, byte for byte. At the end of the
//     header block the missing headers are appended in Postfix's order and
//     form: Message-Id: <YYYYMMDDhhmmss.QUEUEID@$myhostname> (UTC time of
//     arrival), Date: (mail_date format, local time), From: "Full Name
//     <sender>" (or the bare sender; MAILER-DAEMON for the null sender);
//     when the message has Resent- headers, Resent-Message-Id:,
//     Resent-Date: and Resent-From: instead. undisclosed_recipients_header,
//     when set, is added when there is no To:, Cc:, Resent-To: or
//     Resent-Cc:. always_add_missing_headers = yes adds the missing headers
//     in the remote context too.
//
//   - A local submission through pickup (the envelope has a "submit_uid"
//     attribute) gets, first of all, Postfix's Received: header:
//
//     Received: by $myhostname ($mail_name, from userid UID)
//     id QUEUEID; Sat, 21 Nov 2026 23:20:55 +0000 (UTC)
//
//   - A message whose body begins without the empty separator line (no
//     headers at all, or a text line right after them) gets one inserted
//     after the headers; an empty message keeps only the generated headers.
//
//   - At the end, cleanup commits the file (fsync, name included) and only
//     then sends the final reply, then wakes qmgr(8) (public/qmgr, "I").
//
// The hooks where canonical_maps, masquerade_domains and
// virtual_alias_maps will apply (message.go: mapSender, mapRecipient,
// mapHeaderAddress) pass addresses through unchanged for now.
//
// # SECURITY
//
// cleanup runs unprivileged (mail_owner) and may be chrooted. It trusts
// its clients (only mail_owner can reach private/) for the envelope
// attributes, never for the size or syntax of the content: every
// malformed input ends as a reply status and an aborted queue file.
//
// # DIAGNOSTICS
//
// Replies (status, enhanced code, text): 451 4.3.0 "queue file write
// error" or "internal protocol error" or "address rewriting service
// unavailable"; 550 5.1.0 "no recipients specified"; 552 5.3.4 "Message
// size exceeds fixed limit" (the bytes received exceed
// message_size_limit; not for SUBMIT_FLAG_NOTIFY); 554 5.4.6 "too many
// hops". A rejected or aborted message leaves no file.
//
// Log lines, as Postfix's:
//
//	QUEUEID: message-id=<20261121232055.QUEUEID@mx.example.test>
//	QUEUEID: resent-message-id=<...>
//	QUEUEID: message-id=<>                   (resent, no Message-Id:)
//	warning: QUEUEID: message rejected: hopcount exceeded
//
// CONFIGURATION PARAMETERS
//
//	always_add_missing_headers   (no) add missing headers in the remote context too
//	enable_long_queue_ids        (no) long queue file names
//	hash_queue_depth, hash_queue_names  where hold/ files go
//	header_size_limit            (102400) bytes kept of one header
//	hopcount_limit               (50) Received: headers before rejection
//	mail_name                    (Postern) in the Received: header
//	message_drop_headers         (bcc, content-length, resent-bcc, return-path)
//	message_size_limit           (10240000) content bytes at most
//	myhostname                   in Message-Id: and Received:
//	myorigin                     MAILER-DAEMON@$myorigin is the null sender
//	undisclosed_recipients_header  () added when no visible recipient header
package cleanup
