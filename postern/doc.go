// Package postern is the postern control command, postern(1): Postfix's
// postfix(1) for postern.
//
// # NAME
//
// postern - postern control program
//
// # SUMMARY
//
//	postern [-c config_dir] [-Dv] command
//
// # DESCRIPTION
//
// Commands (Postfix's meanings, messages and exit statuses):
//
//	start            start master in the background and return once it
//	                 listens and has started its daemons; exit 1 with
//	                 "fatal: the Postern mail system is already running"
//	                 when it runs, or with master's error when it fails
//	start-fg         start master in the foreground (it replaces this
//	                 process): for systemd Type=simple and containers
//	stop             stop master and its daemons gracefully and wait until
//	                 they are gone; after 25 seconds, kill them ("stopping
//	                 the Postern mail system with force")
//	abort            stop at once: master kills its daemons (SIGQUIT)
//	reload           re-read main.cf and master.cf (SIGHUP to master)
//	status           "the Postern mail system is running: PID: N", exit 0,
//	                 or "the Postern mail system is not running", exit 1
//	check            check main.cf, master.cf, that the program of each
//	                 service exists, mail_owner and setgid_group, and the
//	                 owners and modes of the queue directories; one warning
//	                 per problem; exit 1 when there is any (Postfix exits 0
//	                 after mere warnings; a script that runs check wants to
//	                 know)
//	set-permissions  create missing queue directories and set the owners
//	                 and modes of all
//	flush            not built yet: the flush service comes with the queue
//	                 manager; exits 1 saying so
//
// stop, abort and reload exit 1 with "fatal: the Postern mail system is not
// running" when it does not run. An unknown command gives "fatal: unknown
// command: 'X'. Usage: postern start (or stop, ...)" and exit 1.
//
// Like Postfix's postfix-script, the messages are logged as
// "postern/postern-script[PID]: ..." and written to stderr only when stderr
// is a terminal; check, set-permissions, flush and usage errors always write
// to stderr.
//
// Options: -c config_dir selects the configuration directory (else
// $MAIL_CONFIG, else /etc/postern); -D and -v are accepted and ignored.
//
// # SECURITY
//
// postern starts master from daemon_directory as the invoking user: root
// for a system instance, anyone for a private one. It signals the PID found
// in queue_directory/pid/master.pid only when that file is locked, that
// is, while a master really runs.
//
// # DIAGNOSTICS
//
// Exit status 0 on success, 1 on any error.
//
// # CONFIGURATION PARAMETERS
//
//	queue_directory (master.pid), daemon_directory (master),
//	mail_owner, setgid_group, data_directory (check, set-permissions),
//	syslog_name, syslog_facility, maillog_file, maillog_file_prefixes
package postern
