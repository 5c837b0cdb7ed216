// Package sasl is smtpd's SASL layer: a client for Dovecot's
// authentication protocol (smtpd_sasl_type = dovecot) and the server side
// of the LOGIN mechanism, which github.com/emersion/go-sasl lacks (its
// PLAIN server is used as is).
//
// # Dovecot's auth protocol (client side, version 1.x)
//
// One line per message, fields separated by TAB, over a unix stream socket
// (smtpd_sasl_path, "private/auth" relative to queue_directory):
//
//	C: VERSION	1	2
//	C: CPID	<our pid>
//	S: VERSION	1	2
//	S: MECH	PLAIN	plaintext
//	S: MECH	LOGIN	plaintext
//	S: SPID	...   CUID	...   COOKIE	...   (ignored)
//	S: DONE
//	C: AUTH	<id>	<mech>	service=smtp	nologin	lip=<a>	rip=<a>[	secured][	resp=<base64>]
//	S: CONT	<id>	<base64 challenge>     (C: CONT	<id>	<base64 response>)
//	S: OK	<id>	user=<name>	...
//	S: FAIL	<id>	[reason=<text>]	[user=<name>]	[temp]	...
//
// as Postfix's xsasl_dovecot_server.c speaks it: a server major version
// other than 1 is an error; MECH flags (anonymous, plaintext, dictionary,
// active, forward-secrecy, mutual-auth, private) are matched against
// smtpd_sasl_security_options; "private" mechanisms are never announced.
// Each authentication exchange uses its own connection (the mechanism list
// is fetched once and cached), so that many concurrent SMTP sessions in
// one process never wait for each other.
//
// # SECURITY
//
// Passwords travel only inside the base64 data between the SMTP client and
// Dovecot; nothing in this package logs them. Usernames from Dovecot are
// made printable before use.
package sasl
