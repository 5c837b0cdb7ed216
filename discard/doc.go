// Package discard is the discard(8) delivery agent: Postern discard mail
// delivery agent.
//
// SUMMARY
//
//	discard [generic daemon options]   (master.cf service "discard")
//
// # DESCRIPTION
//
// qmgr(8) sends discard a delivery request (the Delivery gRPC service on
// private/discard) for recipients that trivial-rewrite resolved to the
// discard transport (transport_maps "discard:text"). discard pretends to
// deliver: every recipient is reported delivered, and one line per
// recipient is logged as Postfix does, with the next hop text as the
// reason:
//
//	QUEUEID: to=<user@example.org>, relay=none, delay=0.01,
//	    delays=0.01/0/0/0, dsn=2.0.0, status=sent (text)
//
// An RFC 3463 code at the start of the next hop ("2.0.0 text") is the
// status; the default is 2.0.0. A success notice requested with DSN
// NOTIFY=SUCCESS says "delivered", as in Postfix.
//
// # SECURITY
//
// discard runs unprivileged and touches no file; only qmgr can reach
// private/.
//
// # DIAGNOSTICS
//
// One log line per recipient; problems as "postern/discard[PID]: warning:".
//
// CONFIGURATION PARAMETERS
//
//	delay_logging_resolution_limit  (2) decimals of logged delays
package discard
