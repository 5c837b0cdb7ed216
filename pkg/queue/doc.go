// Package queue is the only code in postern that writes or reads queue
// files: it creates them durably, names them (queue IDs), moves them between
// the queue states, marks recipients done in place, records delay reasons,
// walks a state directory with bounded memory and moves what cannot be
// parsed to corrupt/. Every daemon and admin command that touches a queue
// file goes through it. This comment is the specification of the format.
//
// # QUEUE DIRECTORY
//
// queue_directory holds the state directories maildrop, incoming, active,
// deferred, hold and corrupt (and bounce, defer, trace, private, public,
// pid, which are not this package's business). A message is one file named
// by its queue ID; it moves between states by rename(2), which never
// replaces an existing name (renameat2 RENAME_NOREPLACE), so a name clash
// is an error and never a lost message. The states listed in
// Queue.HashQueues (hash_queue_names; default deferred, as in Postfix) are hashed into
// Queue.HashDepth (hash_queue_depth, default 1) levels of one-character
// subdirectories, like Postfix's hash_queue_names. Unlike Postfix, the
// characters are taken from the END of the queue ID (level 1 is the last
// character, level 2 the one before it): postern's IDs begin with the time
// and end with the inode number, so their last characters spread evenly:
//
//	deferred/4/1F2A3B984004      (HashDepth 1)
//	deferred/4/0/1F2A3B984004    (HashDepth 2)
//
// # QUEUE IDS
//
// A queue ID is the creation time of the file followed by its inode number.
// The inode makes it unique among all live queue files, whatever the clock
// does: two files that exist at the same time on one file system never
// share an inode, and a rename between states keeps it. Files are created
// with O_EXCL and renamed with RENAME_NOREPLACE, so even a clash with a
// foreign file (restored from a backup, other inode) never replaces it:
// MethodExecBit then retries with the next time value, MethodRename's
// Commit fails (the message is not acknowledged). The time makes IDs sort by arrival: within one
// process the time used is never smaller than the previous one (a clock
// that goes backwards is clamped), and the ID's time is exactly the
// create_time recorded in the file, so sorting IDs as strings sorts
// messages by their recorded creation time (ties within the resolution of
// the time field are broken by inode). Two forms, as in Postfix:
//
// Short IDs (the default, enable_long_queue_ids = no) are upper-case hex,
// 11 or 12 characters for typical inode numbers, as Postfix admins expect:
// six hex digits of whole minutes since 2024-01-01 00:00 UTC (until
// November 2055), then the inode number in hex:
//
//	1F2A3B 984004  ->  1F2A3B984004
//
// Postfix's own short IDs (microseconds, then inode) do not sort by time at
// all; minutes are the finest resolution that keeps the sort and the length.
//
// Long IDs (enable_long_queue_ids = yes) are Postfix's long format: six
// digits of seconds and four of microseconds in base 52
// ("0-9BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz", ascending in ASCII so
// that string order is time order), the letter 'z', and the inode number in
// base 51 (the same digits without 'z'), e.g. 4jX7hC5pCDz1SC8x.
//
// ValidID accepts what Postfix's postsuper accepts: 1 to 64 ASCII letters
// and digits. Names that are not valid IDs (temporary files begin with
// ".t") are skipped by Scan.
//
// # FILE FORMAT (version 1)
//
// All integers are little-endian. A "uvarint" is encoding/binary's unsigned
// varint in its minimal form. A "string" is a uvarint length followed by
// that many bytes (not NUL-terminated; any bytes allowed). CRC means
// CRC-32C (Castagnoli). A file is, in this order:
//
//	header     64 bytes at offset 0
//	envelope   E bytes of records at offset 64
//	content    C bytes at offset 64+E: the message, headers and body, as
//	           written (cleanup writes lines ending in LF)
//	extracted  X bytes of records at offset 64+E+C
//	trailer    16 bytes at offset T = 64+E+C+X
//	journal    records appended after the trailer, up to the end of file
//
// Header:
//
//	off len
//	  0   6  magic "PSTNQF"
//	  6   1  version, 1
//	  7   1  header size, 64
//	  8   8  create_time, microseconds since the Unix epoch (int64); the
//	         time encoded in the queue ID
//	 16   8  message_arrival_time, microseconds (int64); create_time unless
//	         the writer carried an earlier one over (pickup from maildrop)
//	 24   8  E, envelope section length
//	 32   8  C, content length = message_size shown by postqueue
//	 40   8  X, extracted section length
//	 48   4  number of recipient records (envelope + extracted)
//	 52   4  CRC of bytes 0..51
//	 56   1  forced_expire flag, '0' or '1' (mutable, postsuper -e/-f)
//	 57   1  delay-warning-sent flag, '0' or '1' (mutable, qmgr)
//	 58   6  reserved, "000000"
//
// Trailer: "QEND", the CRC of the C content bytes (4), the number of
// records in the envelope and extracted sections (4), and the CRC of the
// trailer's first 12 bytes followed by header bytes 0..51 (4), which ties
// the trailer to its header.
//
// A record is: type (1 byte), payload length (uvarint, at most 1 MiB),
// payload, CRC (4) of type, length bytes and payload. For a recipient
// record the first payload byte is the status byte, which is left out of
// the CRC (it is computed as if that byte were 0), because it is
// rewritten in place. Record types:
//
//	'S' sender: string (empty = null sender <>). Exactly once, first in
//	    the envelope section.
//	'N' sender full name: string. At most once, right after 'S'.
//	'A' named attribute: string name, string value. In the envelope
//	    section only before the first recipient; anywhere in the extracted
//	    section (header-extracted information).
//	'R' recipient: status byte ('+' to do, 'D' done), DSN notify flags
//	    (1 byte: NEVER 1, SUCCESS 2, FAILURE 4, DELAY 8, Postfix's values),
//	    string address, string original address (original_recipient),
//	    string DSN original recipient (ORCPT, e.g. "rfc822;a@b", verbatim).
//	    Envelope recipients, then recipients extracted from headers
//	    (sendmail -t) in the extracted section. Recipients are numbered from
//	    0 in file order.
//	'D' delay reason (journal only): uvarint n, n uvarint recipient
//	    numbers, string reason.
//
// Named attributes postern writes (Envelope fields): rewrite_context,
// envelope_id, ret_flags (Postfix's DSN_RET: FULL 1, HDRS 2), encoding
// ("7bit", "8bit"), smtputf8 ("1"), client_name, reverse_client_name,
// client_address, client_port, helo_name, protocol_name, sasl_method,
// sasl_username, sasl_sender, log_ident, verp_delimiters; other names are
// kept in Envelope.Attrs.
//
// A file is complete when its owner-execute permission bit is set (mode
// 0700), as in Postfix; Open refuses a file without it (ErrIncomplete) and
// Cleanup removes such files once they are old. Both commit methods set it.
//
// # DURABILITY
//
// Commit returns only when the file is complete and durable in incoming/
// (or maildrop/), name included (DESIGN.md invariant 1). Two methods:
//
// MethodRename (the default, chosen by measurement, see
// bench/RESULTS-queue.md): Create makes the file under a temporary name
// (".t..." in the state directory) with O_EXCL and reads its inode, which
// gives the ID at once. Commit writes the header, sets mode 0700, fsync(2)s
// the file, renames it to its queue ID (RENAME_NOREPLACE) and fsyncs the
// directory; one directory fsync covers the renames of all writers that
// renamed before it began (group commit), so under load it costs a
// fraction of an fsync per message. Readers never see a partial file.
//
// MethodExecBit (Postfix's way): Create renames the temporary file to its
// final name at once, before any content. Commit writes the header, sets
// mode 0700, fsyncs the file and then the directory (group commit), which
// makes the earlier rename durable on every POSIX file system. Readers
// see the file while it is written and skip it until the mode is set
// (ErrIncomplete). With Queue.NoDirSync it skips the directory fsync and
// relies, as Postfix does, on the file system making the earlier rename
// durable with the file's fsync (true of ext4, XFS and btrfs, which log
// the rename before the inode change that the fsync forces out; POSIX
// does not promise it).
//
// Measured on this project's 2-core ext4 machines, both POSIX-safe
// methods are equally fast within the noise of the disk (about 1,500
// messages/s with one writer, 4,000 with 10 or 50); skipping the
// directory fsync gains about half again with one writer and nothing
// clear with many. Rename is the default because it is as fast and keeps
// half-written files out of readers' way.
//
// A process killed at any point leaves at most a temporary ".t" file or an
// incomplete (mode 0600) file, which Open rejects and Cleanup removes; never
// a file that looks complete but is not. Moves between states are renames
// without a directory fsync: a rename that a crash undoes leaves the file,
// whole, in its previous state, from which the queue manager takes it again
// (done recipients stay done), so nothing is lost or delivered twice.
//
// Recipient done marks (MarkDone, MarkDoneBatch) write the single status
// byte at its fixed offset with pwrite(2) and then fdatasync(2) before they
// return (invariant 2); a one-byte write cannot be torn. The forced_expire
// and delay-warning flags are written the same way.
//
// # DELAY REASONS
//
// Postfix keeps the reason why a recipient was deferred in a separate
// logfile under defer/, which showq reads for postqueue -p. postern keeps it
// in the queue file itself, as 'D' records appended after the trailer (the
// journal); the latest record that names a recipient wins, and qmgr clears
// the journal (ClearDelayReasons, a truncate) when it retries a message,
// as Postfix deletes the defer logfile. Reasons:
//
//   - postqueue -p on a million deferred messages opens a million files, not
//     two million, and reads each with two preads (the first 4 KiB, and the
//     trailer with the journal);
//   - no extra file is created and deleted per deferral, and there is no
//     queue file without its logfile or logfile without its queue file to
//     reconcile after a crash;
//   - the reason is advisory: it is written without fsync, each record has
//     its own CRC, and a record torn by a crash ends the journal (readers
//     stop there, the next append truncates it away). Losing a reason loses
//     no mail.
//
// The bounce/, defer/ and trace/ directories remain for the bounce daemon's
// per-message DSN logs.
//
// # CORRUPTION
//
// Every length and offset is checked against the file size before use, every
// record and the header and trailer carry a CRC, the content's CRC is in the
// trailer, and the record count must match; a truncated or damaged file
// gives an error that wraps ErrCorrupt (a *CorruptError with the offset),
// never a panic and never wrong data reported as valid. Open checks the
// header and trailer; the envelope records are checked as they are read;
// the content is checked by Verify and at the end of ContentReader, not by
// Open (postqueue does not read content). The status and flag bytes are not
// covered by a CRC but must hold one of their two values. A file of a newer
// version gives an error that wraps ErrCorrupt and ErrVersion. Callers move
// a file whose error wraps ErrCorrupt to corrupt/ (MoveToCorrupt, which logs
// it), so that no daemon crashes or loops on it (invariant 3).
//
// # SCALE
//
// Scan reads a state directory in batches of names (no stat, no sort, no
// list of the whole directory), recursing into hash subdirectories, so its
// memory does not grow with the queue (invariant 5). Reading the envelope
// reads only the start of the file, never the content; recipients are
// streamed to a callback.
package queue
