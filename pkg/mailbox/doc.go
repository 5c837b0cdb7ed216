// Package mailbox writes messages into mailboxes for the local delivery
// agent: mbox files (the user's mailbox, and /file/name targets of aliases
// and .forward files) and Maildirs, with the recipient's privileges, the
// locks other mail programs honour, and Postfix's refusals of unsafe files.
//
// # Privileges
//
// local runs as root. Every file-system access that the recipient must own
// happens inside AsUser, which switches one OS thread (never the process)
// to the recipient's uid, gid and groups and lets that thread die
// afterwards. DeliverMbox and DeliverMaildir call AsUser themselves.
//
// # Security
//
// Paths come from main.cf, passwd and, for /file/name targets, from
// aliases and users' .forward files: a user may control every directory on
// the way. So files are opened O_NOFOLLOW and checked after opening (one
// link, lstat matching fstat, the recipient's own), created O_EXCL, and
// only the spool directory of a mailbox ever gets more privilege than the
// recipient's (MboxOptions.Spool).
//
// # mbox
//
// A message appended to an mbox file (Postfix's mail_copy with
// MAIL_COPY_MBOX) is:
//
//	From sender@example.org  Sat Nov 21 23:27:14 2026     "From ", sender (MAILER-DAEMON for <>), TWO spaces, asctime(3) in local time
//	Return-Path: <sender@example.org>                      Message.Prepend, as given
//	Delivered-To: rcpt@example.org
//	...headers and body...                                 Message.Content, unchanged but for:
//	>From a line that started with "From "                  ">" before lines starting exactly "From "
//	>From already quoted                                    (mboxo: ">From " lines are left alone)
//	                                                        a newline if the content lacks one, then one empty line
//
// Dots are never stuffed, CR is never added, 8-bit bytes are copied as
// they are. See DeliverMbox for the locking and the checks of the file,
// and MboxOptions for the privileges of spool, home and /file/name
// deliveries.
//
// # Maildir
//
// A delivery to DIR/ writes DIR/tmp/SEC.MUSECPpidQn.HOST (O_EXCL, mode
// 0600), fsyncs it, links it to DIR/new/SEC.VdevIinoMusec.HOST (Postfix's
// name: dev and inode in hex, microseconds, the system host name) and
// removes the tmp name. DIR, tmp, new and cur are created (0700) when
// missing. The file holds Message.Prepend and the content unchanged (no
// From_ line, no quoting, no blank line; a missing final newline is added).
//
// # Errors
//
// Failures are *Error values with a DSN status and Postfix's wording; the
// status class says whether to defer (4.x.x) or bounce (5.x.x). System
// errors map as in Postfix's mbox_dsn(): ENOSPC 4.3.0, EAGAIN and ESTALE
// 4.2.0, EDQUOT and EFBIG 5.2.2, others 5.2.0; an error reading the
// message is 4.3.0.
//
// mbox errors are the reason alone, and local adds the context as Postfix
// does: "cannot update mailbox PATH for user USER. " before it for a
// mailbox, "cannot append message to file PATH: " for a /file/name.
//
//	5.2.0  file is a symbolic link
//	5.2.0  file has N hard links
//	5.2.0  file status changed unexpectedly
//	5.2.0  cannot open file: <errno>          (e.g. Is a directory)
//	5.2.0  cannot create file exclusively: <errno>
//	5.2.0  destination PATH is not a regular file          (mailbox)
//	4.2.0  destination PATH is not owned by recipient      (mailbox; logs the strict_mailbox_ownership hint)
//	5.7.1  file is executable                              (/file/name)
//	4.2.0  unable to create lock file PATH.lock: File exists
//	4.2.0  unable to lock for exclusive access: Resource temporarily unavailable
//	5.2.2  error writing message: File too large           (mailbox_size_limit)
//	4.3.0  error reading message: <errno>
//
// Maildir errors are the whole reason, "maildir delivery failed: " and
// then "create maildir file PATH: <errno>", "error writing message:
// <errno>", "maildir DIR is a symbolic link" (5.2.0) or "maildir DIR is not
// owned by recipient" (4.2.0); local logs and reports them as they are. A
// permission error also logs Postfix's two warnings ("maildir access
// problem for UID/GID=...", "perhaps you need to create the maildirs in
// advance").
//
// AsUser's own failures are temporary (4.3.0): "cannot deliver as uid N
// when not running as root", "cannot set privileges to uid N gid G: ...".
package mailbox
