// Package postalias is the postalias(1) command: Postfix alias database
// maintenance.
//
// SUMMARY
//
//	postalias [-Nfinoprsvw] [-c config_dir] [-d key] [-q key] [type:]file ...
//
// # DESCRIPTION
//
// Without -q, -s or -d, postalias builds the alias database type:file
// from the aliases(5) file "file" (type defaults to
// $default_database_type, hash: file.db; cdb: file.cdb). The source
// format is described in postern/pkg/table: "name: value, value ...",
// names unquoted and lower-cased, values re-tokenised as address lists.
// Every database also gets "@" -> "@" and the NIS entries
// YP_LAST_MODIFIED and YP_MASTER_NAME ($myhostname).
//
// The options are postmap's (-q, -s, -d, -i, -f, -r, -w, -N, -n, -p,
// -o, -c); output lines of -s and "-q -" are "key:<TAB>value".
//
// # SECURITY
//
// Run as root, postalias builds the database with the privileges of the
// source file's owner (unless -o). The owner of the alias database is
// who local(8) runs alias commands and file deliveries as.
//
// # DIAGNOSTICS
//
// "postalias: warning: FILE, line N: need name:value pair" and the like
// on stderr; fatal errors exit with status 1.
//
// CONFIGURATION PARAMETERS
//
//	default_database_type (hash)   the type of a table named without "type:"
//	myhostname                     stored as YP_MASTER_NAME
package postalias

import "postern/pkg/table/mapcmd"

// Main runs postalias with args (args[0] is the program name).
func Main(args []string) int {
	c := &mapcmd.Command{
		Name:      "postalias",
		Alias:     true,
		Optstring: "Nc:d:finopq:rsvw",
		Usage:     "[-Nfinoprsvw] [-c config_dir] [-d key] [-q key] [map_type:]file...",
	}
	return c.Run(args)
}
