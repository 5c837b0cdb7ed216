// Package smtpd is postern's SMTP server, Postfix's smtpd(8).
//
// # NAME
//
// smtpd - SMTP server (ports 25, 587 submission, 465 smtps)
//
// # SUMMARY
//
//	smtpd [generic daemon options]     (started by master(8))
//	sendmail -bs                       (one session on stdin/stdout)
//
// # DESCRIPTION
//
// smtpd serves the inet listener master hands over, many sessions per
// process (one goroutine each). For every session it:
//
//   - finds the client's names (smtpd_peername_lookup: PTR, then the
//     forward lookup must give the address back, else the name is
//     "unknown") and logs "connect from name[addr]";
//   - enforces smtpd_client_connection_count_limit per client address
//     (within this process: master may run several smtpd processes, so
//     the limit is per process, not per service as Postfix's anvil);
//   - greets with "220 $smtpd_banner" (after the TLS handshake in
//     wrapper mode, smtpd_tls_wrappermode for port 465);
//   - serves HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY ETRN
//     STARTTLS AUTH with Postfix 3.7's reply texts and enhanced status
//     codes (see the tests for the exact replies), the EHLO keywords in
//     Postfix's order (PIPELINING SIZE VRFY ETRN STARTTLS AUTH
//     ENHANCEDSTATUSCODES 8BITMIME DSN SMTPUTF8 CHUNKING, less
//     smtpd_discard_ehlo_keywords);
//   - asks the access policy at every stage (postern/pkg/policy:
//     smtpd_*_restrictions) and logs "NOQUEUE: reject: ..." or
//     "QUEUEID: reject: ..." lines as Postfix does;
//   - opens a cleanup(8) submission at the first accepted recipient
//     (where Postfix creates its queue file; "QUEUEID: client=..." is
//     logged then), streams the content there as it arrives, preceded by
//     PREPEND headers from the policy and its own Received: header, and
//     answers "250 2.0.0 Ok: queued as QUEUEID" only after cleanup's
//     final reply, which comes after the queue file is durable;
//   - logs "disconnect from name[addr] ehlo=1 mail=1 ... commands=N" with
//     Postfix's per-command counts.
//
// # WHY NOT go-smtp's SERVER
//
// github.com/emersion/go-smtp's Server hardcodes its reply texts
// ("Roger, accepting mail from"), which differ from Postfix's, offers no
// per-command error accounting, no improper-pipelining detection and no
// way to read DATA from the raw connection; its DATA reader passes bare
// LF through and drops the dot of "\r\n.\n". So the session loop here is
// our own, written on go-smtp's conventions (one bufio reader and writer
// per connection, textproto-style lines; replies are buffered and
// flushed when the client has no further pipelined input, as Postfix's
// smtpd_chat does). go-smtp's client is what the tests speak with, beside
// Python's smtplib and swaks.
//
// The DATA phase is read by postern/pkg/dotreader: only
// <CR><LF>.<CR><LF> ends it, never a bare LF or CR (SMTP smuggling).
// smtpd_forbid_bare_newline: "normalize" (= "yes", postern's default as in
// Postfix 3.9) and "no" both accept bare-LF lines as lines and drop a
// "." line touched by a bare LF; postern never lets "<LF>.<LF>" end
// DATA, even with "no" (Postfix 3.7 did: that is the smuggling hole).
// "reject" reads the message to its real end and answers "550 5.5.2
// $myhostname Error: bare <LF> received" (smtpd_forbid_bare_newline_reject_code),
// and a command line ending in a bare LF gets the same reply and a
// disconnect. Clients in smtpd_forbid_bare_newline_exclusions ($mynetworks)
// are exempt from the reject.
//
// # LIMITS
//
// smtpd_timeout for every read and write (then "421 4.4.2 $myhostname
// Error: timeout exceeded"); smtpd_hard_error_limit ("421 4.7.0
// $myhostname Error: too many errors"); past smtpd_soft_error_limit every
// reply waits smtpd_error_sleep_time; smtpd_junk_command_limit for
// NOOP/RSET/VRFY/ETRN; the error count resets after each accepted
// message. smtpd_recipient_limit ("452 4.5.3 Error: too many recipients",
// not counted as an error); message_size_limit both for SIZE= at MAIL
// ("552 5.3.4 Message size exceeds fixed limit") and for the bytes sent
// (read to the end, then "552 5.3.4 Error: message file too big", nothing
// queued). Command lines are cut at line_length_limit. Improper
// pipelining (input already waiting when the greeting, an EHLO/HELO,
// DATA, STARTTLS, AUTH, NOOP, VRFY, ETRN or QUIT reply is sent, or after
// any command when the client did not use EHLO) is logged as Postfix does
// and passed to the policy as Pipelined (reject_unauth_pipelining);
// smtpd_forbid_unauth_pipelining = yes answers "554 5.5.0 Error: SMTP
// protocol synchronization" and disconnects. A panic in one session is
// logged and ends that session only.
//
// # TLS
//
// STARTTLS ("220 2.0.0 Ready to start TLS") and wrapper mode; the
// settings map onto crypto/tls as described at setupTLS (tls.go),
// including session tickets, which are off when
// smtpd_tls_session_cache_timeout = 0 or tls_session_ticket_cipher is
// empty. Plaintext pipelined behind STARTTLS is discarded. With
// smtpd_tls_security_level = encrypt, everything but EHLO, HELO,
// STARTTLS, NOOP, RSET and QUIT gets "530 5.7.0 Must issue a STARTTLS
// command first". With smtpd_tls_loglevel >= 1 the handshake is logged as
// "Anonymous TLS connection established from host[addr]: TLSv1.3 with
// cipher TLS_AES_128_GCM_SHA256 (128/128 bits) key-exchange X25519".
// smtpd_tls_received_header adds the "(using ...)" lines to Received:.
//
// # AUTH
//
// smtpd_sasl_auth_enable with smtpd_sasl_type = dovecot (the only type
// supported; another is a fatal configuration error) and smtpd_sasl_path
// (relative to queue_directory, or absolute): see postern/pkg/sasl. The
// mechanisms are Dovecot's, filtered by smtpd_sasl_security_options
// (smtpd_sasl_tls_security_options under TLS); not offered before TLS
// with smtpd_tls_auth_only. Replies: "235 2.7.0 Authentication
// successful", "535 5.7.8 Error: authentication failed: REASON" (a
// failure counts as an error), "454 4.7.0 Temporary authentication
// failure: REASON", "501 5.7.0 Authentication aborted", "503 5.5.1 Error:
// already authenticated". The log line "warning: host[addr]: SASL LOGIN
// authentication failed: REASON" never holds a password. The user is in
// the client= line (sasl_method=, sasl_username=), in the queue file
// attributes and, with smtpd_sasl_authenticated_header, in Received:.
//
// # SENDMAIL -bs
//
// sendmail -bs runs one session on stdin/stdout through the same code,
// with the client "localhost[127.0.0.1]", no TLS and no AUTH, no relay
// control (the caller is local); see ServeStdio.
//
// # SECURITY
//
// smtpd talks to the whole Internet. It runs unprivileged (master.cf
// unpriv column) and trusts nothing a client sends: every line is bounded
// (line_length_limit), DATA is streamed (never held in memory whole),
// every read and write has a deadline, and text from the client is made
// printable before it reaches a log or a header. TLS keys are read before
// the privilege drop.
//
// # CONFIGURATION PARAMETERS
//
// smtpd_banner, myhostname, mail_name, message_size_limit,
// smtpd_recipient_limit, smtpd_timeout, smtpd_hard_error_limit,
// smtpd_soft_error_limit, smtpd_error_sleep_time,
// smtpd_junk_command_limit, smtpd_helo_required, disable_vrfy_command,
// smtputf8_enable, strict_rfc821_envelopes, line_length_limit,
// smtpd_discard_ehlo_keywords, smtpd_forbidden_commands,
// smtpd_peername_lookup, smtpd_forbid_unauth_pipelining,
// smtpd_forbid_bare_newline, smtpd_forbid_bare_newline_exclusions,
// smtpd_forbid_bare_newline_reject_code,
// smtpd_client_connection_count_limit,
// smtpd_client_event_limit_exceptions, smtpd_tls_security_level,
// smtpd_use_tls, smtpd_enforce_tls, smtpd_tls_wrappermode,
// smtpd_tls_cert_file, smtpd_tls_key_file, smtpd_tls_eccert_file,
// smtpd_tls_eckey_file, smtpd_tls_chain_files, smtpd_tls_protocols,
// smtpd_tls_mandatory_protocols, smtpd_tls_exclude_ciphers,
// smtpd_tls_session_cache_timeout, tls_session_ticket_cipher,
// smtpd_tls_loglevel, smtpd_tls_received_header, smtpd_tls_auth_only,
// smtpd_sasl_auth_enable, smtpd_sasl_type, smtpd_sasl_path,
// smtpd_sasl_security_options, smtpd_sasl_tls_security_options,
// smtpd_sasl_authenticated_header, and the restriction parameters read
// by postern/pkg/policy.
//
// # MISSING
//
// XCLIENT, XFORWARD, milters, anvil rate limits
// (smtpd_client_*_rate_limit), ETRN flushing (no fast-flush service:
// every ETRN gets 459), HOLD/REDIRECT/FILTER decided at end of data
// (DISCARD there works), client certificates.
package smtpd
