// Package table implements postern's lookup tables: the one interface
// (Table) through which aliases, canonical, virtual, transport, access
// and every other map is read, the table types, the source formats, and
// the building of indexed tables for postmap(1) and postalias(1).
//
// A table is named "type:name", as in Postfix. Open returns a Table for:
//
//	hash:/path       indexed file /path.db, built by postmap or postalias
//	cdb:/path        indexed file /path.cdb, built by postmap or postalias
//	texthash:/path   the postmap source file itself, read into memory
//	regexp:/path     POSIX-style regular expressions, first match wins
//	pcre:/path       Perl-style regular expressions (on Go's RE2 engine)
//	cidr:/path       network/prefix rules, first match wins
//	inline:{k=v, {k = v w}}     entries written in the name
//	static:value, static:{v w}  every key is found with this value
//	unionmap:{m1, m2 ...}       all results found, joined with ","
//	pipemap:{m1, m2 ...}        m1's result is the key for m2, and so on
//	fail:name                   every lookup fails (a test aid)
//	unix:passwd.byname          a user's /etc/passwd line
//	unix:group.byname           a group's /etc/group line
//
// # RESULTS
//
// Lookup distinguishes three outcomes: not found (found == false), found
// (possibly with an empty value, which is a real result), and a lookup
// error (err != nil: a corrupt file, a fail: table), which callers must
// treat as a temporary failure and never as "not found".
//
// Indexed tables (hash, cdb), texthash and unix fold keys to lower case
// when they are built and when they are queried, unless FixedCase
// (postmap -f). regexp and pcre tables are case-insensitive by default.
// inline tables compare keys exactly.
//
// Changed reports that a table's file was replaced or modified since
// Open (by inode, size and modification time); daemons then reopen.
//
// # INDEXED FILES: hash AND cdb
//
// Both use the classic 32-bit cdb format of D. J. Bernstein (see package
// postern/pkg/cdb). "hash:/path" is kept in /path.db, "cdb:/path" in
// /path.cdb, so configurations written for Postfix keep their names. A
// .db file written by Postfix (Berkeley DB) cannot be read: Open reports
// "this is a Berkeley DB file ... rebuild it with postern's postmap".
// .cdb files are compatible with Postfix's both ways: keys and values
// are stored without a trailing NUL byte (postmap -N stores them with
// one), and lookups try both forms. hash: tables can be listed (postmap
// -s) and changed in place (-i, -d; the file is rewritten); cdb: tables
// refuse both, as in Postfix. A database is written under a temporary
// name, fsynced and renamed into place: readers see the old or the new
// table, never a partial one.
//
// # SOURCE FORMAT OF postmap (hash, cdb, texthash)
//
// One entry per logical line, "key whitespace value":
//
//	# a comment: a line whose first non-blank character is "#"
//	key       value, with  inner   blanks kept
//	key2      a value that
//	    continues here (the newline is dropped, the indent kept)
//	"key with blanks"  value
//
// Blank lines and comment lines are ignored wherever they occur, also in
// the middle of a continued entry. A line that starts with whitespace
// continues the previous logical line; one that would start a logical
// line is reported ("logical line must not start with whitespace") and
// skipped. There are no end-of-line comments: "k v # x" has the value
// "v # x". The key ends at the first whitespace outside double quotes; a
// backslash protects the next character. As in Postfix the quotes are
// part of the stored key (query with postmap -q '"key with blanks"'). The
// value is the rest of the line with surrounding whitespace removed.
// Diagnostics (FILE and the line number of the entry's first line):
//
//	FILE, line N: expected format: key whitespace value
//	FILE, line N: unbalanced '"' in 'LINE' -- ignoring this line
//	FILE, line N: record is in "key: value" format; is this an alias file?
//	DB: duplicate entry: "key"        (the first value is kept)
//
// texthash adds " -- ignoring this line" to the first message and names
// duplicates as "FILE, line N: duplicate entry".
//
// # SOURCE FORMAT OF postalias: aliases(5)
//
//	# comment
//	name: value1, value2, ...
//	"name with specials": value
//	list: a,
//	    b, /var/mail/list.mbox
//	pipe: "|/usr/bin/procmail -a foo"
//	incl: :include:/etc/mail/list.txt
//
// Logical lines as above. The line is split into RFC 822 tokens (atoms,
// "quoted strings", (comments), [domain literals] and the operators
// ()<>@,;:\".[]|%!); the name is everything before the first ":", made
// unquoted and then lower-cased; the value is everything after it,
// written back with one space after each comma and between adjacent
// words, none around operators ("a,b" becomes "a, b"; "f@g  (Full Name)"
// becomes "f@g (Full Name)"), quoted strings keeping their quotes. A
// line without a name, a value, or with a comma before the colon gives
// "FILE, line N: need name:value pair"; a name with "@" or "%" gives
// "FILE, line N: name must be local". postalias also stores "@" -> "@"
// and the NIS entries YP_LAST_MODIFIED (the build time, ten digits) and
// YP_MASTER_NAME ($myhostname).
//
// # SOURCE FORMAT OF regexp AND pcre
//
//	# comment lines only; a "#" after a result is part of the result
//	/^(.*)@example\.com$/     ${1}@rewritten.test
//	!/@/                      no-at-sign
//	if /@sub\./
//	/^admin@/                 matched admin inside if
//	endif
//	#^CaSe#i                  any delimiter; flags follow it
//
// A rule is [!...]DELIM pattern DELIM flags whitespace result. The
// delimiter is any non-alphanumeric character; a backslash protects it
// inside the pattern. "!" negates (and forbids $n in the result). Rules
// are tried top to bottom and the first match wins; "if PATTERN" ...
// "endif" blocks (which nest) are entered only when PATTERN matches. In
// the result, $n, ${n} (and, for regexp, $(n)) insert subexpression n,
// "$$" a dollar sign. A rule without result yields the empty string
// (with a warning). Flags are toggles of these defaults:
//
//	regexp: i (case-insensitive: on), m (multi-line: off),
//	        x (extended syntax: on; off means POSIX basic syntax)
//	pcre:   i (on), m (off), s (dot matches newline: on), x (off),
//	        A (anchored: off), U (ungreedy: off), E and X (accepted)
//
// regexp uses leftmost-longest (POSIX) matching. Both run on Go's RE2
// engine, which guarantees linear-time matching: a pcre pattern that RE2
// cannot express (lookahead or lookbehind, backreferences, atomic groups,
// possessive quantifiers, recursion) makes Open fail with an error that
// names the file and line. Other bad rules are skipped with a warning
// "regexp map FILE, line N: ...: skipping this rule", as in Postfix.
//
// # SOURCE FORMAT OF cidr
//
//	192.168.0.0/16     local
//	2001:db8::/32      doc-v6
//	[2001:db8::1]      one-host
//	!10.0.0.0/8        not-ten
//	if 172.16.0.0/12
//	172.16.1.0/24      inner
//	endif
//
// "[!]network/prefix result" or "[!]address result", IPv4 and IPv6,
// first match wins, if/endif as above. A network with host bits set is
// skipped: 'non-null host address bits in "1.2.3.4/8", perhaps you
// should use "1.0.0.0/8" instead: skipping this rule'. The lookup key is
// an address; any other key is not found.
//
// # inline, static, unionmap, pipemap
//
// In inline:{...}, unionmap:{...} and pipemap:{...} the elements are
// separated by commas or blanks; braces protect an element that contains
// them ({key = value with blanks}). Blanks around "=" and inside braces
// are trimmed.
//
// # SECURITY
//
// Table files are trusted as configuration: they are read with the
// privileges of the caller. The readers are still robust against
// damaged input: indexed files are bounds-checked (a corrupt file gives
// a lookup error, never a crash), and regular expressions run in linear
// time. postmap and postalias create databases with the group and other
// read permissions of their source file.
package table
