// Package sendmail is the sendmail(1) command, also invoked as mailq(1) and
// newaliases(1): the Sendmail-compatible interface of postern.
//
// SUMMARY
//
//	sendmail [option ...] [recipient ...]
//	mailq
//	sendmail -bp
//	newaliases
//	sendmail -I
//
// # DESCRIPTION
//
// By default sendmail reads a message from standard input until end of file
// or a line with a single "." (unless -i or -oi), and hands it with its
// envelope to postdrop(1), which puts it durably into the maildrop queue;
// sendmail exits 0 only after that, also when the mail system is stopped (the
// message then waits in maildrop/). Lines may end in LF or CRLF
// (sendmail_fix_line_endings); leading mbox "From " lines are dropped; no
// dot-unstuffing is done. A message longer than message_size_limit is
// refused: "sendmail: fatal: SENDER(UID): message file too big", exit 69.
//
// Recipients on the command line are address lists ("a@b, Name <c@d>");
// an empty argument is the empty_address_recipient. The sender is the
// invoking user's login name unless -f or -r; the full name is -F, else
// $NAME, else the GECOS field.
//
// The stream to postdrop is described in postern/postdrop.
//
// # OPTIONS
//
// Options taking an argument (A B C F L N O R V X b e f h o p r) accept it
// attached or as the next word; -q takes only an attached argument.
// Options and recipients may be mixed; "--" ends the options.
//
//	-t        also take recipients from To:, Cc:, Bcc: (only the Resent-
//	          ones when a Resent-To/Cc/Bcc header exists); Bcc: and
//	          Resent-Bcc: are removed. They are stored in the queue file's
//	          extracted section.
//	-i, -oi   a lone "." line does not end the input
//	-f, -r    envelope sender ("" or "<>": the null sender; a malformed
//	          value warns and its first token is used)
//	-F name   sender full name
//	-N list   DSN NOTIFY: never, or success,failure,delay
//	-R ret    DSN RET: full or hdrs
//	-V envid  DSN ENVID (a two-character -=+ value is VERP, deprecated)
//	-XV[xy]   VERP, with delimiters xy or default_verp_delimiters
//	-B type   7BIT or 8BITMIME
//	-G        gateway submission (rewrite context remote)
//	-C dir    configuration directory (or its main.cf); ordinary users
//	          only those in alternate_config_directories or
//	          multi_instance_directories of the default main.cf
//	-v        once: request a delivery status report; more: verbose
//	-bm       queue the message (default)
//	-bv       verify the recipients only; report mailed to the sender
//	-bp       list the queue: exec $command_directory/postqueue -p (= mailq)
//	-bi, -I   exec $command_directory/postalias on every alias_database
//	          (or -oA type:path) entry (= newaliases)
//	-bd, -bl  start the mail system ("postern start") in the background
//	-bh, -bH, -q<interval>
//	          ignored
//	-bs       SMTP on stdin/stdout (smtpd's session code, client
//	          localhost[127.0.0.1], no relay control); messages go through
//	          postdrop into maildrop/
//	-q        postqueue -f;  -qRsite: postqueue -s site;
//	          -qIid: postqueue -i id
//	-A -L -O -U -c -e -h -m -p -x, -o other
//	          ignored
//
// -n, -qS, -X other than V, and -b modes other than the above are fatal.
//
// # DIAGNOSTICS
//
// Errors go to stderr as "sendmail: fatal: ..." and to the mail log as
// "postern/sendmail[PID]: fatal: ...". Exit status (sysexits): 0 when the
// message is queued, 75 (EX_TEMPFAIL) on every fatal error (usage
// included, as Postfix 3.7), 69 (EX_UNAVAILABLE) for a message that is too
// big; modes that exec another program exit with its status (-bs: 0).
//
// CONFIGURATION PARAMETERS
//
//	alias_database            (hash:/etc/aliases) what newaliases builds
//	authorized_submit_users   (static:anyone) who may submit mail
//	command_directory         where postdrop, postqueue, postalias are
//	default_verp_delimiters   (+=) for -XV
//	message_size_limit        (10240000) content bytes at most
//	sendmail_fix_line_endings (always) always, strict or never
package sendmail
