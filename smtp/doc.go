// Package smtp is the smtp(8) and lmtp(8) delivery agent: Postern SMTP+LMTP
// client.
//
// SUMMARY
//
//	smtp [generic daemon options]   (master.cf services "smtp", "relay")
//	lmtp [generic daemon options]   (master.cf service "lmtp")
//
// # DESCRIPTION
//
// qmgr(8) sends the agent a delivery request (the Delivery gRPC service of
// proto/mail.proto, on private/smtp, private/relay or private/lmtp) for
// the recipients of one message that go to one next hop. The agent reads
// the message from its queue file (queue_directory/active/QUEUEID, through
// postern/pkg/queue), delivers it over SMTP (LMTP when the program is
// invoked as "lmtp"), logs one line per recipient and answers per
// recipient: sent, deferred or bounced, with the RFC 3463 status, the
// text, the server's reply as diagnostic and the relay. qmgr marks the
// recipients done and writes the bounce logs from that answer.
//
// Next hop. The next hop is what trivial-rewrite resolved (relayhost,
// transport_maps, or the recipient domain):
//
//	example.org           MX lookup; without MX records the domain's own
//	                      A/AAAA records (RFC 5321 section 5.1)
//	[host], [192.0.2.1]   no MX lookup
//	...:port              another port than smtp_tcp_port (lmtp_tcp_port)
//	inet:host:port        (LMTP) TCP
//	unix:/path, unix:private/dovecot-lmtp   (LMTP) a unix socket, relative
//	                      paths under queue_directory
//
// MX hosts are tried in preference order, equal preferences in random
// order (smtp_randomize_addresses); at most smtp_mx_address_limit addresses
// and smtp_mx_session_limit sessions per delivery. A null MX (RFC 7505)
// bounces at once (5.1.0 "Domain X does not accept mail (nullMX)"). When an
// MX host has one of this host's addresses (inet_interfaces,
// proxy_interfaces) the list is cut before it; when nothing better remains
// the mail bounces "mail for X loops back to myself" (5.4.6), or is deferred
// "unable to find primary relay for X" when better hosts did not resolve.
// Loop detection applies to the standard port only: a next hop with its
// own port (a content filter on [127.0.0.1]:10025) is never a loop, as in
// Postfix. DNS errors: NXDOMAIN bounces (5.4.4 "Host or domain name not
// found. Name service error for name=X type=A: Host not found"), temporary
// failures defer (4.4.3).
//
// Session. The agent connects (smtp_bind_address), reads the greeting,
// sends EHLO $smtp_helo_name (HELO if EHLO is refused; LHLO for LMTP),
// STARTTLS per smtp_tls_security_level, then MAIL FROM with SIZE,
// BODY=8BITMIME, SMTPUTF8, RET and ENVID as the server supports them,
// one RCPT TO per recipient with NOTIFY and ORCPT when the server offers
// DSN, DATA and the content with CRLF line ends and dot-stuffing. With
// PIPELINING, MAIL, RCPT and DATA go in one write. A message larger than
// the server's SIZE is not sent (5.3.4 "message size N exceeds size limit
// M of server H[A]"). Every step has its timeout (smtp_*_timeout).
//
// The protocol is this package's own, not github.com/emersion/go-smtp's
// client: Postfix's behaviour needs pipelined MAIL/RCPT/DATA with a reply
// per command, the server's replies kept verbatim (multi-line text and
// enhanced codes for the logs and DSNs), a timeout per protocol phase,
// LMTP replies per recipient after DATA with the recipients in order,
// and a reply parser that can be fuzzed; go-smtp's client sends one
// command at a time, has one command timeout and reports errors in its
// own text.
//
// Results. A 2xx reply to the end of DATA sends the recipients (the text
// logged is the reply, "250 2.0.0 Ok: queued as X"); a 5xx reply to RCPT
// bounces that recipient, to MAIL or DATA every recipient of the
// transaction ("host H[A] said: REPLY (in reply to RCPT TO command)"); a
// 4xx reply defers, unless another MX host remains, which is then tried
// with the recipients still to do. A connection failure, a 4xx greeting,
// a refused EHLO, a TLS failure, a timeout or a lost connection sends the
// recipients to the next address; after the last one they are deferred
// with its reason ("connect to H[A]:25: Connection refused",
// "conversation with H[A] timed out while sending RCPT TO", "lost
// connection with H[A] while receiving the initial server greeting").
//
// Connection cache. After a transaction the connection stays open for
// smtp_connection_cache_time_limit, and the next delivery to the same next
// hop uses it (logged conn_use=N), up to smtp_connection_reuse_time_limit
// and smtp_connection_reuse_count_limit.
//
// qmgr feedback. A reply whose every recipient failed at the site level
// (connections, greetings, handshakes, DNS temporary failures) without any
// server taking part in a transaction has site_failure set: qmgr counts it
// toward the dead-destination limit. A success at a server that offers DSN
// sets no_success_notice: that server now answers NOTIFY=SUCCESS.
//
// # SECURITY
//
// The agent runs unprivileged (master.cf unpriv y), optionally chrooted;
// it reads resolver_conf_file, the CA file and the client certificate
// before the jail. It trusts nothing a server says beyond the reply
// codes: replies are bounded in length and number of lines, and their text
// is only logged and passed on in DSNs.
//
// # DIAGNOSTICS
//
// One line per recipient:
//
//	QUEUEID: to=<user@example.org>, relay=mx.example.org[192.0.2.1]:25,
//	    delay=0.07, delays=0.03/0.02/0.01/0, dsn=2.0.0,
//	    status=sent (250 2.0.0 Ok: queued as 4F1A2)
//
// and "connect to H[A]:P: Connection refused" for each failed connection,
// "warning: no MX host for X has a valid address record".
//
// # CONFIGURATION PARAMETERS
//
// In LMTP mode each smtp_NAME below is read as lmtp_NAME (lmtp_lhlo_name,
// lmtp_lhlo_timeout).
//
//	smtp_helo_name ($myhostname), smtp_tcp_port (smtp; lmtp: 24)
//	smtp_bind_address, smtp_bind_address6
//	smtp_connect_timeout, smtp_helo_timeout, smtp_mail_timeout,
//	smtp_rcpt_timeout, smtp_data_init_timeout, smtp_data_xfer_timeout,
//	smtp_data_done_timeout, smtp_quit_timeout, smtp_starttls_timeout,
//	smtp_rset_timeout
//	smtp_mx_address_limit, smtp_mx_session_limit, smtp_randomize_addresses,
//	smtp_defer_if_no_mx_address_found, smtp_dns_support_level,
//	disable_dns_lookups, smtp_host_lookup, inet_protocols,
//	inet_interfaces, proxy_interfaces, resolver_conf_file
//	smtp_skip_5xx_greeting, smtp_skip_quit_response, smtp_never_send_ehlo,
//	smtp_discard_ehlo_keywords, smtp_line_length_limit, lmtp_assume_final
//	smtp_tls_security_level (none, may, encrypt, verify, secure; dane is
//	run as may and dane-only and fingerprint as encrypt for now),
//	smtp_use_tls, smtp_enforce_tls, smtp_tls_enforce_peername,
//	smtp_tls_CAfile, smtp_tls_cert_file, smtp_tls_key_file,
//	smtp_tls_chain_files, smtp_tls_servername, smtp_tls_loglevel
//	smtp_connection_cache_time_limit, smtp_connection_reuse_time_limit,
//	smtp_connection_reuse_count_limit
//	delay_logging_resolution_limit, syslog_name, maillog_file
package smtp
