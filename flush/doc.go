// Package flush is the flush(8) daemon: deliver deferred mail now, on
// request.
//
// SUMMARY
//
//	flush [generic daemon options]
//
// # DESCRIPTION
//
// flush serves the Flush gRPC service (postern/proto, admin.proto) on
// public/flush for postqueue(1) -f, -s and -i and sendmail -q, -qR and
// -qI:
//
//	ALL      (postqueue -f) ask qmgr to forget dead destinations and
//	         retry every deferred message now, and wake pickup.
//	ID       (postqueue -i ID) move deferred/ID to incoming/, where qmgr
//	         takes it at once. No such deferred message is not an error;
//	         a held message stays on hold.
//	SITE     (postqueue -s site) only for a site that fast_flush_domains
//	         matches: move every deferred message with a recipient still
//	         to be delivered at that domain (or [address]) to incoming/.
//	         Otherwise the answer is Postfix's refusal: Flush service is
//	         not configured for destination "site".
//
// Postfix's flush keeps a log file per destination listing the queue IDs
// deferred for it. postern scans deferred/ instead, reading only the
// envelope of each file (one file in memory at a time): there is no
// per-site state to keep in step with the queue, and a site flush is rare
// enough that a linear scan is cheap.
//
// # SECURITY
//
// The socket is public. flush takes the caller's uid from the socket
// (SO_PEERCRED) and serves root, mail_owner and the users
// authorized_flush_users allows. It runs as mail_owner.
//
// CONFIGURATION PARAMETERS
//
//	authorized_flush_users  (static:anyone) who may flush
//	fast_flush_domains      ($relay_domains) sites postqueue -s serves
//	parent_domain_matches_subdomains  (fast_flush_domains matches
//	                        subdomains when listed there)
package flush
