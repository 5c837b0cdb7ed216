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
// afterwards.
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
// 4.2.0, EDQUOT and EFBIG 5.2.2, others 5.2.0. Maildir errors are the whole
// reason ("maildir delivery failed: create maildir file PATH: Permission
// denied"); local logs and reports them as they are.
package mailbox
