// Package postdrop is the postdrop(1) command: Postern mail posting
// utility.
//
// SUMMARY
//
//	postdrop [-rv] [-c config_dir]
//
// # DESCRIPTION
//
// postdrop reads a message in the submission stream format below from
// standard input and writes it as a queue file (postern/pkg/queue) into
// $queue_directory/maildrop, which only mail_owner and the setgid_group may
// write and nobody else may read (mode 0730). It is installed set-group-id
// setgid_group, so that sendmail(1), running as any user, can put mail
// there. It is normally run by sendmail(1), not by hand.
//
// The file is complete (owner-execute bit, fsync, rename, directory fsync)
// before postdrop exits 0. It records the sender, its full name, the
// named attributes, the recipients (those extracted from headers by
// sendmail -t in the queue file's extracted section) and, as the envelope
// attribute "submit_uid", the real uid of the process that ran postdrop
// (never a value from the stream), for pickup's "uid=" log field and the
// Received: header. The file is owned by that uid, mode 0744, as in
// Postfix.
//
// With -r (the caller is a program, e.g. sendmail -bs), postdrop prints
// "queue_id=ID" on standard output once the file is committed, so that the
// caller can answer "queued as ID".
//
// Then postdrop wakes pickup by connecting to $queue_directory/public/pickup
// and writing "W". When nothing listens (the mail system is stopped) that is
// not an error: the file waits in maildrop/ until pickup's next scan.
//
// # SUBMISSION STREAM
//
// A sequence of records, each a type byte, the payload length as an
// encoding/binary unsigned varint (at most 1 MiB) and the payload:
//
//	'V' "PSTNDROP1"              first record, the format version
//	'S' sender                   empty is the null sender <>
//	'N' full name                sender_fullname
//	'A' uvarint len, name, value named attribute (rewrite_context,
//	                             envelope_id, ret_flags, encoding,
//	                             verp_delimiters, trace_flags ...)
//	'R' notify byte, address     envelope recipient (DSN NOTIFY bits:
//	                             NEVER 1, SUCCESS 2, FAILURE 4, DELAY 8)
//	'C' bytes                    message content, any number of records
//	'X' notify byte, address     recipient extracted from the headers
//	                             (after the content)
//	'E' (empty)                  end: commit the file
//	'Q' (empty)                  the submitter gave up: discard quietly
//
// 'S', 'N' and 'A' come before any 'R' or 'C'. A stream that ends without
// 'E' (the submitter died) is discarded with a fatal error; no partial file is
// ever left complete in maildrop/.
//
// # SECURITY
//
// postdrop is set-group-id and trusts nothing from its caller but the
// stream: an ordinary user may name a configuration directory (-c, or
// MAIL_CONFIG) other than the default only if the default main.cf lists it
// in alternate_config_directories or multi_instance_directories. The user
// must be allowed by authorized_submit_users.
//
// # DIAGNOSTICS
//
// Problems are reported on stderr and logged as
// "postern/postdrop[PID]: fatal: ..." (only warnings and errors are
// logged). Exit status 0 when the file is committed, 75 (EX_TEMPFAIL) on
// any error, 69 (EX_UNAVAILABLE) when the content exceeds
// message_size_limit.
//
// CONFIGURATION PARAMETERS
//
//	alternate_config_directories  directories ordinary users may name
//	authorized_submit_users       (static:anyone) who may submit mail
//	enable_long_queue_ids         (no) long queue file names
//	message_size_limit            (10240000) content bytes at most
//	queue_directory               where maildrop/ is
//	setgid_group                  (postdrop) the group postdrop runs as
package postdrop
