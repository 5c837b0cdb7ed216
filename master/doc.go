// Package master is postern's resident process supervisor, master(8).
//
// # NAME
//
// master - postern master process
//
// # SUMMARY
//
//	master [-c config_dir] [-d] [-t] [-w]
//
// # DESCRIPTION
//
// master reads main.cf and master.cf, creates whatever is missing under
// queue_directory (maildrop incoming active deferred hold corrupt bounce
// defer trace flush saved private public pid) and data_directory with
// Postfix's owners and modes (see pkg/instance), takes the lock on
// queue_directory/pid/master.pid and writes its PID there, opens every
// service's listening sockets, and starts the daemons: a service with a
// wakeup at once (it has periodic work), every other one when its first
// client connects, as Postfix does, so that an idle system runs few
// processes.
// It is normally started by "postern start" (in the background, with -w)
// or "postern start-fg" (in the foreground, for systemd and containers);
// master itself never forks into the background.
//
// Listeners. An inet service listens on host:port, or, when master.cf
// gives only a port, on every address of inet_interfaces ("all",
// "loopback-only", or a list of addresses and names), for IPv4 and IPv6 as
// inet_protocols enables them (an IPv6 socket is IPV6_V6ONLY so that both
// families bind the same port). A unix service listens on
// queue_directory/private/NAME (private=y) or public/NAME. The listen
// backlog is the kernel's maximum, never tied to the process limit. unix-dgram,
// fifo and pass services are not supported yet and are skipped with a
// warning.
//
// Daemons. master runs daemon_directory/COMMAND with the listeners as
// inherited descriptors; pkg/service documents the argument, descriptor and
// signal conventions. A Go daemon serves many sessions concurrently, so
// master runs at most one process per service (besides processes that
// finish their sessions after a reload): maxproc is accepted, and any value
// means one process (a clean way to add processes under load would be a
// "busy" status byte from the daemon; none of our daemons needs it, as
// goroutines already use every CPU). A daemon that exits voluntarily
// (max_use, max_idle) is started again as soon as a client waits on its
// socket, or at its next wakeup. A wakeup (master.cf column 6) is SIGUSR1
// to the service's process every N seconds, only once the service was
// used when the value ends in "?"; with no process running, the wakeup
// starts one.
//
// Supervision. master reaps every child, logs an abnormal exit as Postfix
// does ("warning: process PATH pid N exit status S", "... killed by signal
// N"), and restarts the daemon at once. A daemon that dies before it
// reported ready, or dies abnormally five times within a minute, makes
// master log "warning: PATH: bad command startup -- throttling" (or
// "process keeps dying -- throttling") and start no process of that
// service for service_throttle_time; its socket stays open, so clients
// wait instead of being refused. master never exits because of a child.
//
// Signals. SIGHUP re-reads both files ("reload -- version V,
// configuration DIR"): removed services' sockets are closed, added ones
// opened, the sockets of kept services (same address) stay open, and every
// running daemon is told to finish its sessions and exit (SIGHUP to the
// daemon) while a new daemon with the new configuration takes over the
// socket at once, so no connection is refused or dropped. A configuration
// that does not parse is logged and the old one kept. SIGTERM (and SIGINT)
// logs "terminating on signal 15", sends SIGTERM to every daemon, waits up
// to the daemons' grace time plus five seconds, kills what is left and
// exits. SIGQUIT ("postern abort") kills every daemon at once and exits.
//
// Options:
//
//	-c config_dir  read main.cf and master.cf from config_dir (default:
//	               $MAIL_CONFIG, else /etc/postern)
//	-d, -s, -i     accepted for compatibility: master always stays in the
//	               foreground
//	-t             test mode: exit 0 when no master runs for this
//	               configuration, 1 when one does
//	-w             descriptor 3 is a pipe: write "ok" once every listener
//	               is open and the daemons are started, or the fatal error
//	               text (postern start waits for it)
//
// # SECURITY
//
// master is the only long-lived process that runs as root. It trusts
// main.cf, master.cf and daemon_directory, which only root may change. It
// reads nothing from the network: it never accepts on a listener, it only
// waits for a socket to become readable. The status sockets of its
// children carry single bytes that can only affect the child's own
// service (throttling decisions). Started by a user other than root,
// master and every daemon run as that user ("running as NAME (uid N), not
// root" is logged once), without chroot or privilege change.
//
// # DIAGNOSTICS
//
// Problems are logged to syslog or maillog_file as "postern/master[PID]:
// warning: ..." and "fatal: ...". Exit status 1 on a fatal start-up error
// (bad configuration, unknown mail_owner, a port that cannot be bound,
// "the Postern mail system is already running"), 0 after SIGTERM.
//
// # CONFIGURATION PARAMETERS
//
//	queue_directory, data_directory, daemon_directory
//	mail_owner, setgid_group
//	inet_interfaces, inet_protocols
//	service_throttle_time
//	syslog_name, syslog_facility, maillog_file, maillog_file_prefixes
//	mail_version (logged at start and reload)
//	max_use, max_idle, daemon_timeout (read by the daemons, see pkg/service)
package master
