// Package pickup is the pickup(8) daemon: Postern local mail pickup.
//
// SUMMARY
//
//	pickup [generic daemon options]
//
// # DESCRIPTION
//
// pickup waits for a trigger on public/pickup (postdrop(1) writes "W"
// after each new file; postqueue -f too), scans maildrop/ once at start and
// at every master.cf wakeup (60 seconds by default), and hands each complete
// maildrop file to cleanup(8) (private/cleanup, postern/pkg/submit) with
// origin "pickup", rewrite context "local" ("remote" for sendmail -G), the
// maildrop file's message_arrival_time (so that delay= counts from the
// submission), its sender, full name, named attributes (submit_uid and the
// DSN and encoding attributes), envelope recipients and the recipients
// sendmail -t extracted. cleanup gives the message a new queue ID.
//
// The maildrop file is removed only after cleanup's final success reply,
// that is after the new queue file is durable. On a temporary failure (4xx,
// or cleanup unreachable) it stays in maildrop/ for the next scan.
//
// # SECURITY
//
// pickup runs unprivileged (mail_owner) and may be chrooted. maildrop/
// files are written by any local user through postdrop(1), so pickup
// trusts nothing in them but what postdrop vouches for: the submit_uid
// attribute must name the file's owner. A file owned by mail_owner and not
// readable by others is a message requeued by postsuper -r: it is accepted
// as is, its recipients already done are left out, and it is logged as
// "NEWQUEUEID: uid=UID from=<sender> orig_id=OLDQUEUEID", as Postfix does.
// A file that fails this check, or
// that cannot be parsed, is moved to corrupt/ with a warning, never
// submitted and never retried.
//
// # DIAGNOSTICS
//
// Every picked-up message is logged as Postfix does, with the new queue ID
// and the sender as submitted:
//
//	NEWQUEUEID: uid=1000 from=<user>
//
// Problems are logged as warnings: "warning: corrupt queue file ... moved
// to corrupt/" (pkg/queue), "warning: ID: uid=N: cleanup: 451 4.3.0 ... --
// will try again". A message that cleanup rejects permanently (size, hop
// count, no recipients) is logged with "message rejected by cleanup",
// returned to its sender through bounce(8) (which reads it from maildrop/)
// and only then removed, as Postfix's cleanup bounces a rejected local
// submission.
//
// CONFIGURATION PARAMETERS
//
//	enable_long_queue_ids        (no) long queue file names
//	queue_directory              where maildrop/ is
package pickup
