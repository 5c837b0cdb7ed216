// Package postqueue is the postqueue(1) command: Postern queue control.
//
// SUMMARY
//
//	postqueue [-v] [-c config_dir] -f
//	postqueue [-v] [-c config_dir] -i queue_id
//	postqueue [-v] [-c config_dir] -j
//	postqueue [-v] [-c config_dir] -p
//	postqueue [-v] [-c config_dir] -s site
//
// # DESCRIPTION
//
// postqueue lists the mail queue and asks for deferred mail to be
// delivered now, for any local user, through the public showq(8) and
// flush(8) services. Its output is Postfix's, character for character,
// because scripts parse it.
//
//	-f      Flush: ask the queue manager to retry every deferred message
//	        now (through flush(8)). No output.
//	-i queue_id
//	        Schedule the deferred message queue_id for immediate delivery.
//	        No output, also when there is no such message.
//	-j      List the queue as one JSON object per message per line, with
//	        Postfix's keys in Postfix's order: queue_name, queue_id,
//	        arrival_time, message_size, forced_expire, sender, recipients
//	        (address and, when recorded, delay_reason).
//	-p      List the queue in sendmail's mailq layout (also mailq(1) and
//	        sendmail -bp): queue ID with "*" for active, "!" for hold and
//	        "#" for force-expired mail, size, arrival time, sender, the
//	        delay reason and the recipients; "-- N Kbytes in M Requests."
//	        or "Mail queue is empty".
//	-s site Deliver mail queued for site (a domain or [address]) now;
//	        only for sites in fast_flush_domains.
//	-c config_dir
//	        Use config_dir instead of $MAIL_CONFIG or /etc/postern. An
//	        ordinary user may name only directories the default main.cf
//	        lists in alternate_config_directories.
//	-v      More logging (accepted).
//
// When showq cannot be reached (the mail system is down), root gets the
// listing from the queue directory itself after a warning; other users
// get a fatal error.
//
// # DIAGNOSTICS
//
// Fatal errors go to stderr and the log, with exit status 69
// (EX_UNAVAILABLE), as Postfix's postqueue; 0 otherwise.
//
// CONFIGURATION PARAMETERS
//
//	alternate_config_directories, authorized_flush_users,
//	authorized_mailq_users, enable_long_queue_ids, fast_flush_domains,
//	queue_directory, mail_owner
package postqueue
