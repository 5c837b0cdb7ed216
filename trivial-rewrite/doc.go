// Package trivialrewrite is the trivial-rewrite(8) daemon: Postern address
// rewriting and resolving.
//
// SUMMARY
//
//	trivial-rewrite [generic daemon options]
//
// # DESCRIPTION
//
// trivial-rewrite serves the TrivialRewrite gRPC service
// (postern/proto, service "rewrite", socket private/rewrite) to cleanup,
// smtpd, qmgr and the other daemons, which call it through
// postern/pkg/rewrite's caching Client. Both requests take a batch of
// addresses in internal (unquoted) form and answer one result each, in
// order:
//
// Rewrite (context "local" or "remote") canonicalises an address:
// source routes are stripped, host!user becomes user@host
// (swap_bangpath), user%host becomes user@host (allow_percent_hack),
// user becomes user@$myorigin (append_at_myorigin), user@host becomes
// user@host.$mydomain (append_dot_mydomain) and one trailing dot of the
// domain goes. In the remote context $remote_header_rewrite_domain takes
// the place of $myorigin and $mydomain, and nothing is appended when it
// is empty. The null address stays empty.
//
// Resolve maps a recipient to a transport (a master.cf service), a next
// hop and the recipient to deliver to, with flags: the address class
// (local: mydestination, or an address literal of inet_interfaces or
// proxy_interfaces; virtual alias: virtual_alias_domains; virtual
// mailbox: virtual_mailbox_domains; relay: relay_domains; default:
// anything else), routed (the local part still holds "@", "!" or "%"),
// error (bad address syntax; the transport is "error" with the text
// "5.1.3 bad address syntax") and fail (a table lookup failed: the
// client must try again later). Local domains are stripped from the
// right and the rest is re-resolved while it holds routing operators.
// The next hop is, from lowest to highest precedence: the recipient
// domain, $relayhost and sender_dependent_relayhost_maps (relay and
// default classes), a next hop in the class's transport parameter
// (local_transport = local:$myhostname), a transport_maps entry (looked
// up as user+ext@domain, user@domain, domain, .parent.domain ..., "*").
// The virtual alias class always resolves to "error:5.1.1 User unknown
// in virtual alias table".
//
// relocated_maps is not applied by trivial-rewrite in postern.
//
// # SECURITY
//
// trivial-rewrite is not security-sensitive: it runs unprivileged as
// mail_owner (master.cf unpriv column "-"), trusts only its
// configuration, and treats request addresses as data. It opens its
// lookup tables before it drops privileges. Requests carry at most
// rewrite.MaxBatch addresses.
//
// # DIAGNOSTICS
//
// Nothing is logged per request. Warnings: "TABLE lookup failure" when a
// table cannot be read (the request gets the fail flag), "do not list
// domain D in BOTH P1 and P2" for a domain in two class lists (the first
// class in the order above wins), "file DIR/main.cf: parameter P: null
// transport is not allowed". When a table file changes, the daemon logs
// "table TYPE:NAME has changed -- restarting", finishes the requests it
// is serving and exits; master starts a new process on the next request.
// A main.cf change takes effect with "postern reload".
//
// CONFIGURATION PARAMETERS
//
//	allow_min_user            (no) accept recipients that start with "-"
//	allow_percent_hack        (yes) user%domain -> user@domain
//	append_at_myorigin        (yes) user -> user@$myorigin
//	append_dot_mydomain       (no at compatibility_level >= 1) user@host -> user@host.$mydomain
//	default_transport         (smtp) transport of the default class
//	empty_address_recipient   (MAILER-DAEMON) local part for an empty one
//	helpful_warnings          (yes) warn about domains listed in two classes
//	inet_interfaces           (all) [address] literals of these are local
//	local_transport           (local:$myhostname) transport of the local class
//	mydestination             ($myhostname, localhost.$mydomain, localhost) local domains
//	mydomain, myhostname, myorigin
//	parent_domain_matches_subdomains  relay_domains and transport_maps matching
//	proxy_interfaces          () more local [address] literals
//	recipient_delimiter       () address extension delimiters (transport_maps keys)
//	relay_domains             () domains relayed to (relay_transport)
//	relay_transport           (relay) transport of the relay class
//	relayhost                 () next hop for the relay and default classes
//	remote_header_rewrite_domain  () the remote context's domain
//	resolve_dequoted_address  (yes) look for routing operators in quoted local parts
//	resolve_null_domain       (no) resolve user@ as user
//	resolve_numeric_domain    (no) resolve user@1.2.3.4 as user@[1.2.3.4]
//	sender_dependent_default_transport_maps  per-sender default_transport
//	sender_dependent_relayhost_maps          per-sender relayhost
//	show_user_unknown_table_name  (yes) name the table in "User unknown"
//	swap_bangpath             (yes) host!user -> user@host
//	transport_maps            () per-recipient transport and next hop
//	virtual_alias_domains     ($virtual_alias_maps) virtual alias class
//	virtual_mailbox_domains   ($virtual_mailbox_maps) virtual mailbox class
//	virtual_transport         (virtual) transport of the virtual mailbox class
package trivialrewrite
