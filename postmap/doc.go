// Package postmap is the postmap(1) command: Postfix lookup table
// management.
//
// SUMMARY
//
//	postmap [-bfFhimnNoprsuUvw] [-c config_dir] [-d key] [-q key] [type:]file ...
//
// # DESCRIPTION
//
// Without -q, -s or -d, postmap builds the indexed table type:file from
// the source file "file" (type defaults to $default_database_type, hash):
// hash:file makes file.db, cdb:file makes file.cdb, both in the cdb
// format described in postern/pkg/table. The new database is written
// under a temporary name, fsynced and renamed into place.
//
//	-q key   print the value of key from the first table that has it;
//	         exit 1, silently, when no table has it. "-q -" reads keys
//	         from stdin and prints "key<TAB>value" for those found.
//	-s       list all entries of the (first) table: "key<TAB>value".
//	-d key   delete key ("-d -": keys from stdin); exit 1 if none existed.
//	-i       add "key value" lines from stdin to an existing hash table.
//	-f       do not fold keys to lower case.
//	-F       values are file names; store their content base64-encoded.
//	-r, -w   on duplicate keys: replace, or ignore silently (default:
//	         keep the first and warn).
//	-N, -n   store and look up keys with, or only without, a trailing NUL.
//	-p       do not copy the source's group/other read bits to the table.
//	-o       when run as root, do not switch to the source file's owner.
//	-b, -h   with "-q -": look up the body lines / header lines of a
//	         message read from stdin (header_checks tests).
//	-c dir   read dir/main.cf instead of $MAIL_CONFIG or /etc/postern.
//
// # SECURITY
//
// Run as root, postmap builds a table with the privileges of the source
// file's owner (unless -o), so that a bug in the parser cannot write
// files as root. Queries run with the caller's privileges.
//
// # DIAGNOSTICS
//
// Problems are reported on stderr as "postmap: warning: ..." and
// "postmap: fatal: ..."; a fatal error exits with status 1.
//
// CONFIGURATION PARAMETERS
//
//	default_database_type (hash)   the type of a table named without "type:"
package postmap

import "postern/pkg/table/mapcmd"

// Main runs postmap with args (args[0] is the program name).
func Main(args []string) int {
	c := &mapcmd.Command{
		Name:      "postmap",
		Optstring: "bc:d:fFhimnNopq:rsuUvw",
		Usage:     "[-bfFhimnNoprsuUvw] [-c config_dir] [-d key] [-q key] [map_type:]file...",
	}
	return c.Run(args)
}
