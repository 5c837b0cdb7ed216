// Package local is the local(8) daemon: Postern local mail delivery.
//
// SUMMARY
//
//	local [generic daemon options]
//
// # DESCRIPTION
//
// local serves the Delivery gRPC service (proto/mail.proto) on the
// master.cf service socket private/local. qmgr calls it with one
// recipient per request (local_destination_recipient_limit = 1); local
// reads the message from the queue file (queue_directory/STATE/ID),
// delivers it, logs one result line per final destination in Postfix's
// format
//
//	ID: to=<pfa@example.org>, orig_to=<list@example.org>, relay=local,
//	    delay=0.03, delays=0.02/0.01/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
//
// and answers per recipient (sent, deferred or bounced, with DSN and
// text). qmgr marks recipients done and writes bounce logs from the answer.
//
// A recipient's local part is lowercased and stripped of its domain; with
// recipient_delimiter, "user+ext" is looked up as "user+ext", then "user"
// (owner-X and X-request are never split when the delimiter is "-" and
// owner_request_special is on). Delivery methods, first that applies:
//
//  1. alias_maps: the value is a list of addresses, "|command",
//     "/file/name" (a trailing "/" means Maildir) and ":include:/file"
//     (more such lines). Local addresses are delivered inline, others
//     are forwarded. A member equal to the alias name is the user of
//     that name. When an alias "owner-NAME" exists, the expansion gets
//     the envelope sender owner-NAME@$myorigin and all its addresses are
//     resubmitted as a new message.
//  2. ~/.forward along forward_path, read as the user: same syntax; the
//     user's own name (or "\user") delivers to the mailbox, every other
//     address is resubmitted as a new message with the original sender.
//     A file that is not regular, not owned by the user or root, or
//     group- or world-writable is ignored with a warning.
//  3. mailbox_command, run as the user.
//  4. home_mailbox (under $HOME; a trailing "/" means Maildir), else
//     mail_spool_directory/USER (a trailing "/" on the directory means
//     Maildir). mbox files are written with Postfix's From_ line and
//     ">From " quoting, locked as mailbox_delivery_lock says.
//  5. luser_relay, else a bounce: 5.1.1 unknown user: "name".
//
// Every delivery prepends "Return-Path: <sender>", "X-Original-To:
// ORIGINAL" (enable_original_recipient) and "Delivered-To: RECIPIENT"
// (prepend_delivered_header); the Delivered-To: value is the recipient qmgr
// gave (frozen_delivered_to). A message that already carries
// "Delivered-To: RECIPIENT" for the recipient being delivered bounces with
// 5.4.6 "mail forwarding loop for RECIPIENT". Nesting deeper than 100
// levels bounces 5.4.6 "recipient nesting limit exceeded". Within one
// request every mailbox, file, command and forwarded address gets the
// message once (duplicate_filter_limit).
//
// Forwarded messages go through cleanup (private/cleanup) with origin and
// rewrite context "local", the request's queue ID as parent, the original
// recipient kept, NOTIFY=SUCCESS removed, and "Delivered-To: RECIPIENT"
// prepended; the result is logged "forwarded as NEWID".
//
// Commands run directly (split on blanks) or, when they contain shell
// metacharacters or local_command_shell is set, through /bin/sh -c, in
// queue_directory (or command_execution_directory), with the message on
// standard input after a From_ line and the prepended headers, and the
// environment HOME, SHELL (user context only), USER, LOGNAME, LOCAL,
// EXTENSION, DOMAIN, RECIPIENT, SENDER, ORIGINAL_RECIPIENT, CLIENT_* and
// SASL_* (when known), PATH=/usr/bin:/bin and the names in
// export_environment, filtered by command_expansion_filter. Exit status 0
// is success; output that starts with an RFC 3463 code decides the status;
// sysexits(3) codes map as in Postfix (75 EX_TEMPFAIL and 71 EX_OSERR
// defer, the others bounce); other statuses bounce 5.3.0 "Command died
// with status N"; a signal defers; command_time_limit bounces.
//
// # SECURITY
//
// local runs as root (master.cf unpriv=n) and never writes a user's file
// or runs a command as root. Mailbox deliveries run as the recipient;
// .forward files are opened, and their commands and files run, as the user
// (primary group, no supplementary groups); alias commands and files run
// as the owner of the alias database file, and :include: targets as the
// owner of the include file; root in either place, and a mailbox_command
// for root, becomes default_privs. Files and directories are switched to
// on one OS thread at a time (the thread dies afterwards), commands get
// their IDs through exec credentials. allow_mail_to_commands and
// allow_mail_to_files (default "alias, forward") restrict where commands
// and files may come from; :include: files may name neither by default.
//
// When postern runs as an ordinary user (developer mode) local delivers
// only as that user: every delivery that would need another uid is
// deferred with a text that says so.
//
// # DIAGNOSTICS
//
// Result lines as above. Warnings name refused .forward and :include:
// files ("file PATH is group writable", "file PATH has bad owner uid N"),
// refused mailboxes and alias map failures (which defer). A queue file
// that cannot be parsed is moved to corrupt/ and its recipients deferred.
//
// # BUGS
//
// mailbox_transport(_maps), mailbox_command_maps, fallback_transport(_maps)
// and biff are not implemented. A bounce of an alias member is reported to
// qmgr under the original recipient.
//
// CONFIGURATION PARAMETERS
//
//	alias_maps                  (hash:/etc/aliases) alias databases
//	allow_mail_to_commands      (alias, forward) where |command may come from
//	allow_mail_to_files         (alias, forward) where /file/name may come from
//	command_execution_directory working directory of commands
//	command_expansion_filter    characters allowed in command environment values
//	command_time_limit          (1000s) time limit of a command delivery
//	default_privs               (nobody) rights of deliveries that would be root
//	duplicate_filter_limit      (1000) duplicate filter size per request
//	enable_original_recipient   (yes) X-Original-To:
//	export_environment          (TZ MAIL_CONFIG LANG) environment kept for commands
//	forward_expansion_filter    characters allowed in forward_path expansions
//	forward_path                ($home/.forward${recipient_delimiter}${extension}, $home/.forward)
//	home_mailbox                mailbox relative to $HOME
//	local_command_shell         shell for commands (default: /bin/sh -c when needed)
//	luser_relay                 destination for unknown users
//	mail_spool_directory        (/var/mail) mailbox spool
//	mailbox_command             program that delivers to the mailbox
//	mailbox_delivery_lock       (fcntl, dotlock) mbox locking
//	mailbox_size_limit          (51200000) largest mailbox or Maildir file
//	mydestination, myorigin     what is local; how bare names are qualified
//	owner_request_special       (yes) owner-X and X-request are not split
//	prepend_delivered_header    (command, file, forward) where Delivered-To: goes
//	recipient_delimiter         user+extension separator
//	strict_mailbox_ownership    (yes) defer mailboxes not owned by the recipient
package local
