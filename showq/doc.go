// Package showq is the showq(8) daemon: list the mail queue.
//
// SUMMARY
//
//	showq [generic daemon options]
//
// # DESCRIPTION
//
// showq serves the Showq gRPC service (postern/proto, admin.proto) on
// public/showq, where postqueue(1) -p and -j, mailq(1) and sendmail -bp
// ask for the queue listing. It streams one entry per queue file, in
// Postfix's order (maildrop, active, incoming, deferred, hold), with the
// recipients still to be delivered and their delay reasons, reading one
// file at a time, so that its memory does not grow with the queue.
//
// # SECURITY
//
// The socket is public: any local user may connect. showq learns the
// caller's uid from the socket (SO_PEERCRED), never from the request, and
// answers only root, mail_owner and the users that authorized_mailq_users
// allows; others get PermissionDenied with the user name and uid, which
// postqueue prints as Postfix does ("User joe(1000) is not allowed to view
// the mail queue"). showq runs as mail_owner and may be chrooted.
//
// CONFIGURATION PARAMETERS
//
//	authorized_mailq_users  (static:anyone) who may list the queue
//	hash_queue_depth, hash_queue_names, enable_long_queue_ids
//	mail_owner, queue_directory
package showq
