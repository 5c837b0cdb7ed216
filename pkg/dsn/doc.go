// Package dsn composes postern's delivery status notifications: the
// non-delivery reports, delay notices and success notices that bounce(8)
// submits through cleanup from the null sender. They are RFC 3464
// multipart/report messages laid out byte for byte as Postfix 3.7 lays
// them out, because users, bounce processors (mailing list managers,
// Sisimai, flufl.bounce) and administrators' scripts know that layout.
// This comment is the specification.
//
// # LAYOUT
//
// A failure notice to the sender (Class Failure), as Report.Write emits
// it; the other classes differ where noted below:
//
//	Received: by $myhostname ($mail_name)
//		id NEWID; DATE
//	Date: DATE
//	From: Mail Delivery System <MAILER-DAEMON@$myorigin>
//	Subject: Undelivered Mail Returned to Sender
//	To: SENDER
//	Auto-Submitted: auto-replied
//	MIME-Version: 1.0
//	Content-Type: multipart/report; report-type=delivery-status;
//		boundary="QUEUEID.UNIXTIME/$myhostname"
//	Content-Transfer-Encoding: 8bit
//	Message-Id: <YYYYMMDDhhmmss.NEWID@$myhostname>
//
//	This is a MIME-encapsulated message.
//
//	--QUEUEID.UNIXTIME/$myhostname
//	Content-Description: Notification
//	Content-Type: text/plain; charset=utf-8
//	Content-Transfer-Encoding: 8bit
//
//	This is the mail system at host $myhostname.
//	... (the template text, see Templates)
//
//	<rcpt@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1
//	    <rcpt@example.org>: Recipient address rejected (in reply to RCPT TO
//	    command)
//
//	--QUEUEID.UNIXTIME/$myhostname
//	Content-Description: Delivery report
//	Content-Type: message/delivery-status
//
//	Reporting-MTA: dns; $myhostname
//	Original-Envelope-Id: ENVID                   (only with DSN ENVID)
//	X-Postfix-Queue-ID: QUEUEID
//	X-Postfix-Sender: rfc822; SENDER
//	Arrival-Date: DATE
//
//	Final-Recipient: rfc822; rcpt@example.org
//	Original-Recipient: rfc822;rcpt@example.org
//	Action: failed
//	Status: 5.1.1
//	Remote-MTA: dns; mx.example.org
//	Diagnostic-Code: smtp; 550 5.1.1 <rcpt@example.org>: Recipient address
//	    rejected
//
//	--QUEUEID.UNIXTIME/$myhostname
//	Content-Description: Undelivered Message
//	Content-Type: message/rfc822
//	Content-Transfer-Encoding: 8bit
//
//	Return-Path: <SENDER>
//	... the original message ...
//
//	--QUEUEID.UNIXTIME/$myhostname--
//
// Details, all Postfix's:
//
//   - Received: and Message-Id: carry the notification's own queue ID
//     (Report.QueueID); Postfix's post_mail writes the first and its
//     cleanup adds the second at the end of the header block, where Write
//     puts it, so the bytes are the same whichever side adds it. UNIXTIME
//     and the dates are Report.Time. Dates have mail_date's form,
//     "Sat, 21 Nov 2026 23:28:56 +0000 (UTC)", the day padded with a
//     blank.
//   - From: is what Postfix's cleanup makes of the template's
//     "MAILER-DAEMON (Mail Delivery System)" in the local rewriting
//     context; To: is the recipient of the notice, its local part quoted
//     when RFC 5322 needs it, qualified with @$myorigin when it has no
//     domain (postmaster).
//   - Auto-Submitted: is auto-replied for the sender's notice and
//     auto-generated for a postmaster copy.
//   - Content-Transfer-Encoding follows the original's encoding (the
//     queue file's "encoding" attribute): "8bit" gives 8bit on the whole
//     message, the text part (whose charset then is utf-8) and the
//     returned message; "7bit" gives 7bit on the whole message only
//     (the templates are US-ASCII); none leaves the header out. The
//     text part's charset is otherwise us-ascii.
//   - Human-readable recipient lines are "<addr>: reason" or
//     "<addr> (expanded from <original>): reason", and the Remote-MTA and
//     Diagnostic-Code fields are wrapped as Postfix's line_wrap does: at
//     most 79 columns where blanks allow, continuation lines indented by
//     4 blanks. Control characters and malformed UTF-8 in logged text are
//     shown as "?" (Postfix's printable()), so that nothing from a remote
//     reply can start a header or a MIME boundary.
//   - The per-message fields are named X-Postfix-Queue-ID and
//     X-Postfix-Sender, and a local diagnostic is "Diagnostic-Code:
//     X-Postfix; reason", whatever mail_name says. Postfix derives the
//     "Postfix" in them from mail_name; postern keeps Postfix's spelling
//     because bounce parsers recognise an MTA's reports by exactly these
//     names, and a notice they cannot classify is worse than a name that
//     is not ours. The sender is MAILER-DAEMON@$myhostname for the null
//     sender.
//   - Final-Recipient has a blank after "rfc822;"; Original-Recipient is
//     the recipient's DSN ORCPT verbatim (as the client gave it, usually
//     "rfc822;addr" without a blank), else "rfc822; " and the original
//     recipient address. With SMTPUTF8 a non-ASCII address has type
//     "utf-8" and the report parts are message/global-delivery-status and
//     message/global or message/global-headers (RFC 6533).
//   - Action is "failed" in a failure notice whatever was logged (an
//     expired recipient keeps its 4.X.X Status); a delay notice adds
//     Will-Retry-Until: arrival + maximal_queue_lifetime.
//   - The returned message starts with Return-Path: <SENDER>. It is
//     message/rfc822 "Undelivered Message" for failure notices unless the
//     sender asked RET=HDRS or the message is larger than
//     bounce_size_limit (then, not to break its MIME structure, only its
//     headers: text/rfc822-headers "Undelivered Message Headers"). Delay
//     notices return headers, success notices "Message Headers". The
//     content is copied from Original.Content as it is read, never held
//     in memory whole.
//   - A postmaster copy (Report.PostmasterCopy) has Postfix's postmaster
//     subject ("Postmaster Copy: Undelivered Mail", "Postmaster Warning:
//     Delayed Mail") and no template text, only the recipient lines.
//
// # TEMPLATES
//
// The text of the first part is Postfix's default bounce(5) template of the
// class, with $myhostname, the delay_warning_time in whole hours and the
// maximal_queue_lifetime in whole days filled in. bounce_template_file is
// not read (yet).
package dsn
