// Package error is the error(8) and retry delivery agent: Postern error or
// retry mail delivery agent.
//
// SUMMARY
//
//	error [generic daemon options]   (master.cf services "error", "retry")
//
// # DESCRIPTION
//
// qmgr(8) sends error a delivery request (the Delivery gRPC service on
// private/error or private/retry) for recipients that must not be
// delivered: addresses that trivial-rewrite resolved to the error
// transport (transport_maps "error:5.1.1 text", relocated, bad syntax),
// and recipients of a destination that qmgr found dead. error never reads
// the message: it answers every recipient of the request with the request's
// next hop as the reason, and logs one line per recipient as Postfix does:
//
//	QUEUEID: to=<user@example.org>, relay=none, delay=0.04,
//	    delays=0.01/0.03/0/0, dsn=5.0.0, status=bounced (reason)
//
// When the next hop begins with an RFC 3463 status code ("5.1.1 user
// unknown", "4.4.1 delivery temporarily suspended: ..."), that code is the
// status and the rest the reason; otherwise the status is 5.0.0 (bounce)
// or 4.0.0 (defer). Running as the service "retry", or given a 4.x.x code,
// the agent defers the recipients instead of bouncing them; a code whose
// class does not fit the action is replaced by the default, as Postfix's
// bounce_append and defer_append do. qmgr records the outcome (bounce log,
// done marks, delay reasons) from the reply.
//
// # SECURITY
//
// error runs unprivileged (master.cf unpriv y) and touches no file. It
// trusts its caller, qmgr, which is the only process that can reach
// private/.
//
// # DIAGNOSTICS
//
// One log line per recipient (see above); problems are logged as
// "postern/error[PID]: warning: ...".
//
// CONFIGURATION PARAMETERS
//
//	delay_logging_resolution_limit  (2) decimals of logged delays
//	syslog_name, maillog_file       where the log goes
package error
