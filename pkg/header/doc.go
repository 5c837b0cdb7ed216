// Package header knows the message header as Postfix's cleanup(8) sees it:
// where the header block ends and the body begins, what a header line is,
// which headers carry sender or recipient addresses, how an address list
// is parsed, rewritten and folded again, and the date format of the headers
// the mail system adds.
//
// # HEADER BLOCK
//
// A message is a sequence of lines ending in LF (cleanup's clients remove
// CRs). The header block is the longest prefix of lines each of which is
// either a header line or a continuation line following one:
//
//   - a header line starts with a name of one or more printable ASCII
//     characters other than ':' (no spaces, no controls), optionally
//     followed by blanks, then ':' (Postfix's is_header());
//   - a continuation line starts with a blank (space or tab) and belongs
//     to the header before it (RFC 5322 folding).
//
// The first line that is neither ends the header block. When it is empty
// it is the separator and belongs to neither part; otherwise (a message
// without headers, or a line such as "hello world" right after the
// headers) it is the first body line, and cleanup inserts the empty
// separator line itself, as Postfix does. A continuation line at the very
// start has nothing to continue and is body.
//
// A header longer than header_size_limit bytes is truncated at the limit
// (the excess of that one header is discarded, as Postfix's mime_state
// does); the Splitter reports the truncation. Memory used is bounded by the
// limit, never by the message.
//
// # ADDRESS HEADERS
//
// Postfix's header table (header_opts.c): sender headers (From, Sender,
// Reply-To, Errors-To, Return-Receipt-To, Disposition-Notification-To,
// Mail-Followup-To, Resent-From, Resent-Sender, Return-Path) and
// recipient headers (To, Cc, Bcc, Apparently-To, Resent-To, Resent-Cc,
// Resent-Bcc, Resent-Reply-To) have their addresses rewritten in the local
// context; the Resent- ones (and Resent-Date, Resent-Message-Id) make a
// message "resent". ParseAddressList finds the addresses of such a header;
// Format regenerates it Postfix's way: canonical header name, tokens
// joined with single blanks, ", " between addresses, and a fold (LF TAB)
// after a comma when the logical line would reach 70 characters.
package header
