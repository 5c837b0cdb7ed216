// Package policy is smtpd's access policy: Postfix's restriction lists
// (smtpd_client_restrictions ... smtpd_etrn_restrictions), every access(5)
// action, recipient validation and the open-relay guard, with Postfix's
// reply codes, texts and log lines.
//
// # USE
//
//	chk, err := policy.New(cfg)            // before chroot: reads resolver_conf_file
//	d := chk.Check(ctx, policy.StageRcpt, sess)
//	if d.Rejected() {
//		reply(d.Reply())                   // "554 5.7.1 <x>: Relay access denied"
//		log.QInfof(qidOrNOQUEUE, "%s", policy.RejectLog(policy.StageRcpt, sess, d))
//	}
//	for _, l := range d.Warn { log.QInfof(qidOrNOQUEUE, "%s", l) }
//
// A Disconnect decision (access map 421/521) is sent and the connection
// closed. Hold, Discard, Redirect, Filter and Prepend apply to the whole
// message (smtpd remembers them for the transaction; after a Discard it
// need not ask again until the next MAIL).
//
// # WHEN LISTS RUN
//
// With smtpd_delay_reject = yes (the default) the client, helo and sender
// lists run at RCPT TO, for every recipient, before the relay and recipient
// lists; StageConnect, StageHelo and StageMail then decide nothing (except
// smtpd_helo_required at MAIL: "503 5.5.1 Error: send HELO/EHLO first").
// Their outcome is kept in the Session while nothing it depends on changes
// (client, HELO, sender, TLS, SASL login); a list whose result depended on
// the recipient, or that had side effects (WARN, HOLD, PREPEND ...), runs
// again. With smtpd_delay_reject = no they run at CONNECT, HELO and MAIL.
//
// At RCPT: client → helo → sender → relay → recipient lists
// (smtpd_relay_before_recipient_restrictions = no swaps the last two). A
// reject in any list rejects; a permit ends only its own list. Then,
// whatever the lists said, recipient validation (smtpd_reject_unlisted_recipient):
// relocated_maps ("550 5.1.6 ... User has moved to X"), virtual_alias_maps,
// then the table of the recipient's address class — local_recipient_maps,
// virtual alias (always unknown when not aliased), virtual_mailbox_maps,
// relay_recipient_maps — giving "550 5.1.1 <x>: Recipient address
// rejected: User unknown in local recipient table". Last, a remembered
// defer_if_permit turns a permit into its 450. A bare "postmaster"
// recipient is always accepted.
//
// StageData runs smtpd_data_restrictions, StageEndOfData
// smtpd_end_of_data_restrictions, StageETRN the delayed client and helo
// lists and smtpd_etrn_restrictions (Session.ETRNDomain), StageVRFY only
// recipient validation.
//
// # ADDRESS CLASSES
//
// reject_unauth_destination, permit_auth_destination, recipient validation
// and reject_unknown_*_domain ask trivial-rewrite (private/rewrite, gRPC
// Resolve) for the address class: local, virtual alias and virtual mailbox
// destinations and relay_domains are "authorised", anything else needs
// permit_mynetworks, permit_sasl_authenticated or an OK. Sender-specified
// routing (RESOLVE_FLAG_ROUTED) is not authorised unless
// allow_untrusted_routing = yes.
//
// # OPEN-RELAY GUARD
//
// New fails, as Postfix's smtpd does at start-up, unless
// smtpd_relay_restrictions or smtpd_recipient_restrictions (or a
// restriction class they name) holds reject_unauth_destination,
// defer_unauth_destination, reject, defer, defer_if_permit or
// check_relay_domains:
//
//	in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one working instance of: reject_unauth_destination, defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains
//
// # ACCESS TABLES
//
// Keys, lower-cased, first found wins: for addresses user+ext@domain,
// user@domain, domain and its parents (as "parent" or ".parent" per
// parent_domain_matches_subdomains), user+ext@, user@; the null sender as
// smtpd_null_access_lookup_key; for clients the host name and its parents,
// then the address, then its shorter prefixes (1.2.3, 1.2, 1; IPv6 by
// ":" groups); HELO and ETRN names with their parents. regexp, pcre and
// cidr tables get only the whole string. Values: OK (and all-numeric),
// REJECT [D.S.N] [text], DEFER, DEFER_IF_PERMIT, DEFER_IF_REJECT,
// NNN [D.S.N] text (421/521 disconnect), DISCARD, HOLD, REDIRECT addr,
// FILTER transport:dest, PREPEND header, WARN, INFO, DUNNO, or a list of
// restrictions and restriction class names (smtpd_restriction_classes).
// An empty value is OK with a warning. "proxy:" in a table name is opened
// directly (postern has no proxymap); a table that cannot be opened fails
// every lookup ("451 4.3.5 Server configuration error"); a lookup error is
// "451 4.3.0 <item>: Temporary lookup failure".
//
// # DNS
//
// reject_rbl_client, reject_rhsbl_*, reject_unknown_*_domain and
// reject_unknown_helo_hostname use package postern/pkg/dnsbl with the name
// servers of resolver_conf_file (WithDNSServer overrides them; the file may
// also name a server with a port, "nameserver 127.0.0.1:5353"). A DNSBL
// failure means "not listed"; a temporary failure of a domain lookup is
// handled per unknown_address_tempfail_action (defer_if_permit: 450 4.1.8
// "Domain not found" unless a later restriction rejects).
//
// # NOT IMPLEMENTED
//
// check_policy_service (replies 451 4.3.5), permit_tls_clientcerts,
// reject_unverified_*, *_login_mismatch, the check_*_{a,mx,ns}_access
// family, permit_dnswl_client, BCC: they log a warning and decide nothing.
//
// # CONFIGURATION PARAMETERS
//
// smtpd_{client,helo,sender,relay,recipient,data,end_of_data,etrn}_restrictions,
// smtpd_restriction_classes, smtpd_delay_reject, smtpd_helo_required,
// smtpd_relay_before_recipient_restrictions, smtpd_reject_unlisted_recipient,
// smtpd_reject_unlisted_sender, mynetworks (mynetworks_style through
// pkg/config), local_recipient_maps, virtual_alias_maps, virtual_mailbox_maps,
// relay_recipient_maps, relocated_maps, recipient_delimiter,
// double_bounce_sender, parent_domain_matches_subdomains,
// smtpd_null_access_lookup_key, allow_untrusted_routing, soft_bounce,
// show_user_unknown_table_name, default_rbl_reply, rbl_reply_maps,
// unknown_address_tempfail_action, unknown_helo_hostname_tempfail_action,
// resolver_conf_file, and the reply codes reject_code, defer_code,
// relay_domains_reject_code, access_map_reject_code, access_map_defer_code,
// invalid_hostname_reject_code, non_fqdn_reject_code,
// unknown_address_reject_code, unknown_client_reject_code,
// unknown_hostname_reject_code, unknown_{local,virtual_alias,virtual_mailbox,relay}_recipient_reject_code,
// maps_rbl_reject_code, multi_recipient_bounce_reject_code, plaintext_reject_code.
package policy
