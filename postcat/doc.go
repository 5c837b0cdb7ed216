// Package postcat is the postcat(1) command: show postern queue file
// contents.
//
// SUMMARY
//
//	postcat [-bdehoqrv] [-c config_dir] [-s offset] [files...]
//
// # DESCRIPTION
//
// postcat prints the named queue files in human-readable form, in the
// layout of Postfix's postcat(1). The files are postern queue files (the
// format documented in postern/pkg/queue). Without file names it reads
// one file from standard input and calls it "stdin".
//
// By default postcat shows the envelope and the message content, as if
// -beh were given:
//
//	*** ENVELOPE RECORDS deferred/4/1F2A3B984004 ***
//	message_size:             223             410               3               0             223               0
//	message_arrival_time: Sat Nov 21 23:19:25 2026
//	create_time: Sat Nov 21 23:20:55 2026
//	named_attribute: rewrite_context=local
//	sender_fullname: Alice Example
//	sender: alice@example.org
//	named_attribute: client_address=192.0.2.7
//	named_attribute: dsn_orig_rcpt=rfc822;bob@example.com
//	named_attribute: notify_flags=12
//	original_recipient: bob
//	recipient: bob@example.com
//	done_recipient: carol@example.com
//	*** MESSAGE CONTENTS deferred/4/1F2A3B984004 ***
//	(header lines, the empty line, the body)
//	*** HEADER EXTRACTED deferred/4/1F2A3B984004 ***
//	(attributes and recipients extracted from headers, e.g. sendmail -t)
//	*** MESSAGE FILE END deferred/4/1F2A3B984004 ***
//
// message_size has Postfix's six fields: content size, offset of the
// content in the file, recipient count, queue manager options (always 0
// in postern), content length, and SMTPUTF8 flags (1 when requested).
// Times are local time in asctime(3) form. A delivered recipient shows
// as done_recipient, as in Postfix. Each postern recipient record also
// carries the DSN ORCPT and NOTIFY values, which Postfix keeps in the
// named attributes dsn_orig_rcpt and notify_flags before the recipient;
// postcat prints them that way.
//
// Options:
//
//	-b      Show body content: from the first line that is not a header
//	        line (normally the empty line after the headers) to the end
//	        of the message.
//	-c config_dir
//	        Read main.cf from config_dir instead of $MAIL_CONFIG or
//	        /etc/postern (used with -q for queue_directory,
//	        hash_queue_depth and hash_queue_names).
//	-d      Print Postfix's decimal record type before each record (see
//	        RECORD TYPES).
//	-e      Show the envelope records and the four section markers.
//	-h      Show header content: from the start of the message up to,
//	        not including, the first non-header line. A line beginning
//	        with a space or tab continues the header, as in Postfix.
//	-o      Print the queue file offset of each record (see OFFSETS).
//	-q      Search the queues maildrop, incoming, active, deferred, hold
//	        and corrupt (in that order, twice) for the named queue IDs
//	        instead of taking the names literally. The path shown is
//	        relative to queue_directory, e.g. deferred/4/1F2A3B984004.
//	-r      Print records in file order, don't follow pointer records.
//	        Accepted for compatibility: postern queue files have no
//	        pointer records, and postcat always reads them in order.
//	-s offset
//	        Skip to the specified queue file offset: records and lines
//	        that begin before it are not shown, nor is the ENVELOPE
//	        RECORDS line.
//	-v      Verbose; accepted, no effect.
//
// -e alone shows the envelope and the markers; -h alone only the header
// lines and -b alone only the body lines, without markers; -bh the whole
// message. There is no -n: Postfix's postcat has none either, and
// unknown options are a usage error.
//
// # RECORD TYPES
//
// postern's format has four record types (sender, full name, named
// attribute, recipient) and a fixed header; -d prints for each line the
// decimal code of the Postfix record that holds the same information:
//
//	67 C message_size          (header fields)
//	84 T message_arrival_time  (header field)
//	65 A create_time, named_attribute (also dsn_orig_rcpt, notify_flags)
//	70 F sender_fullname
//	83 S sender
//	79 O original_recipient
//	82 R recipient
//	68 D done_recipient
//	77 M *** MESSAGE CONTENTS ***
//	78 N a line of content
//	88 X *** HEADER EXTRACTED ***
//	69 E *** MESSAGE FILE END ***
//
// # OFFSETS
//
// Offsets are true offsets in the postern file: message_size,
// message_arrival_time and create_time show the header fields (24, 16
// and 8); a content line shows where it begins; the MESSAGE CONTENTS and
// HEADER EXTRACTED markers show the start of the content and of the
// extracted section, MESSAGE FILE END the trailer. The dsn_orig_rcpt,
// notify_flags, original_recipient and recipient lines of one recipient
// share the offset of its record. pkg/queue does not report record
// offsets, so postcat computes them from the documented record encoding
// and checks that the envelope records end where the content begins;
// when they do not (attributes written in another order), or when the
// extracted section mixes attributes and recipients (their relative
// order is not reported), the offsets that cannot be known print as "?".
//
// # DIAGNOSTICS
//
// Problems are reported on standard error. A file that is not a queue
// file (wrong magic, header or trailer, truncated) gives
// "postcat: warning: NAME: input is not a valid queue file" and postcat
// goes on with the next file (exit status 0, as in Postfix). A queue file
// damaged inside (a record or content checksum) gives "postcat: fatal:
// NAME: record read error: ..." after what could be shown, exit status 1.
// An unknown queue ID with -q gives "postcat: fatal: open queue file ID:
// No such file or directory", a malformed one "postcat: fatal: bad mail
// queue ID: ID", both exit status 1.
//
// # DIFFERENCES FROM POSTFIX
//
// Delay reasons (kept in the queue file's journal) and the
// forced_expire and delay-warning flags are not shown: Postfix keeps
// them outside the records postcat prints. Lines are never split into
// continuation records, so -o shows one offset per line. Named
// attributes are shown in the order Writer.SetEnvelope writes them, with
// rewrite_context before the sender as Postfix's cleanup writes it.
//
// CONFIGURATION PARAMETERS
//
//	queue_directory     where -q looks
//	hash_queue_depth, hash_queue_names
//	                    how deferred and hold are hashed (postcat also
//	                    tries pkg/queue's defaults and a flat layout)
//
// # SEE ALSO
//
// postqueue(1), postsuper(1), postern/pkg/queue.
package postcat
