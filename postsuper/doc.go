// Package postsuper is the postsuper(1) command: Postern superintendent.
//
// SUMMARY
//
//	postsuper [-psSv] [-c config_dir] [-d queue_id] [-e queue_id]
//		[-f queue_id] [-h queue_id] [-H queue_id] [-r queue_id]
//		[directory ...]
//
// # DESCRIPTION
//
// postsuper does maintenance jobs on the queue. Its use is restricted to
// the superuser; see postqueue(1) for listing and flushing the queue.
// Without options it does what -s and -p do, silently unless it repairs
// something (postern start runs it so).
//
// A queue_id of "-" reads queue IDs from standard input, one per line
// (what "mailq | tr -d '*!'" or "postqueue -j | jq -r .queue_id" print);
// a line that is not a queue ID is warned about and skipped. "ALL" (upper
// case only) selects every message of the named or default queues and
// reports only the summary. The options that take a queue ID may be given
// several times and are carried out in the order given, after -p, -s and
// -S.
//
//	-c config_dir  main.cf is in config_dir (an absolute path) instead of
//	               /etc/postern; see also MAIL_CONFIG.
//	-d queue_id    delete the message from the queues (default: maildrop,
//	               incoming, active, deferred, hold), with its bounce,
//	               defer and trace logs: "ID: removed".
//	-e queue_id    force the message to expire: qmgr returns it to its
//	               sender at its next delivery attempt ("status=
//	               force-expired, returned to sender") and postqueue -p
//	               shows "#" meanwhile. Held mail stays held: "ID: expired".
//	-f queue_id    as -e, and release it if it is on hold.
//	-h queue_id    put the message on hold (from incoming, active,
//	               deferred): nothing delivers or expires it until it is
//	               released: "ID: placed on hold".
//	-H queue_id    release the message from hold to deferred/, due at
//	               once (its retry time is set to now and qmgr is woken):
//	               "ID: released from hold".
//	-p             purge temporary and incomplete files that crashed
//	               writers left behind more than 7 days ago.
//	-r queue_id    requeue the message: move it to maildrop/, owned by
//	               mail_owner, and wake pickup, which gives it to cleanup
//	               as a new message (new queue ID, logged as "NEWID:
//	               uid=UID from=<sender> orig_id=ID"), so that address
//	               rewriting, canonical and virtual mapping apply again.
//	               Recipients already delivered are not submitted again.
//	-s             structure check and repair: a file whose name does not
//	               match its inode number (a queue restored from a
//	               backup), or a long name while enable_long_queue_ids is
//	               off, is renamed (keeping the time digits of its name);
//	               a file in the wrong hash subdirectory
//	               (hash_queue_names, hash_queue_depth) is moved there and
//	               unneeded subdirectories are removed; a complete file
//	               whose envelope or recipients cannot be read is moved to
//	               corrupt/ with a warning.
//	-S             as -s, and long names must match their inode number
//	               too; the content of every file is verified as well.
//	-v             verbose logging.
//
// Trailing queue names (maildrop, incoming, active, deferred, hold, and
// the log directories bounce, defer, trace, flush) restrict the search:
// "postsuper -d ALL deferred", "postsuper -d ID hold".
//
// # SAFETY
//
// postsuper may run while mail flows. It changes the queue only by
// rename(2) that never replaces a file and by unlink(2), and writes no
// byte of a queue file but the forced-expire flag; a file that moves or
// disappears while postsuper looks at it is left to whoever took it (a
// message that qmgr holds when it is deleted or put on hold is not lost:
// qmgr finds it gone). Every change is made with mail_owner's user and
// group ID, as the daemons make theirs (root only to give a requeued file
// to mail_owner). A file that -s finds unreadable is read twice before it
// is moved to corrupt/, so that a daemon's change in progress is not taken
// for damage. When -s had to rename files, operations by queue ID are
// refused: the IDs given may name other messages now.
//
// # DIAGNOSTICS
//
// Everything goes to standard error (standard output stays empty) and to
// the log as "postern/postsuper[PID]: ...": one line per message acted on,
// then one summary per operation requested, even when nothing matched:
//
//	postsuper: Deleted: 0 messages
//	postsuper: Placed on hold: 1 message
//	postsuper: Released from hold: 5 messages
//	postsuper: Requeued: 3 messages
//	postsuper: Force-expired: 2 messages
//	postsuper: Renamed to match inode number: 1 message
//	postsuper: warning: QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS
//	postsuper: warning: invalid mail queue id: ID
//	postsuper: fatal: invalid directory name: NAME
//	postsuper: fatal: use of this command is reserved for the superuser
//
// Exit status 0, or 1 after any fatal error (usage errors included).
//
// # ENVIRONMENT
//
//	MAIL_CONFIG   directory with main.cf
//
// CONFIGURATION PARAMETERS
//
//	queue_directory         the queue
//	mail_owner              (postern) owner of the queue and its files
//	hash_queue_names        (deferred, defer) hashed queues
//	hash_queue_depth        (1) subdirectory levels
//	enable_long_queue_ids   (no) long queue IDs
//	syslog_name, maillog_file   where the log goes
package postsuper
