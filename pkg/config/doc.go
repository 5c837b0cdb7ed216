// Package config reads postern's configuration: main.cf, master.cf and the
// parameter catalogue. It is the only code that parses these files.
//
// # main.cf
//
// The syntax and semantics are Postfix's (postconf(5)):
//
//   - One entry per logical line: "name = value". Blanks around "=" are
//     optional; the value loses leading and trailing blanks; an empty
//     value is legal. Quotes mean nothing.
//   - A line whose first non-blank character is "#" is a comment; a blank
//     line is empty. Neither ends a logical line that is being continued.
//     There are no end-of-line comments: "v # x" is all value.
//   - A line that starts with whitespace continues the previous logical
//     line: the newline is removed and the line is appended with its
//     leading whitespace kept. Such a line at the start of the file is
//     ignored with the warning "logical line must not start with
//     whitespace".
//   - Names are case-sensitive. The last entry of a name wins (postconf
//     warns "overriding earlier entry"). Order does not matter.
//   - Fatal errors name file and line: `PATH, line N: missing '=' after
//     attribute name: "TEXT"` and `... missing attribute name: "TEXT"`.
//
// Values are kept raw and expanded when read (expand.go lists the forms:
// $name, ${name?text}, ${name:text}, ${name?{a}:{b}}, relational and
// compatibility-level compares). Raw text is what daemons use; postconf
// collapses runs of blanks only when it prints.
//
// # Precedence
//
// An override (master.cf "-o name=value", postconf -o, per-process names
// such as service_name) wins over main.cf, which wins over the built-in
// default. Built-in defaults come from the catalogue (catalogue.toml), or,
// for host-derived names (myhostname, mydomain, mynetworks), are computed on
// this host as Postfix computes them (host.go).
//
// # Types
//
// bool is yes/no in any case; int is decimal with optional range checks;
// time is a number with an optional unit s, m, h, d or w (a bare number
// uses the parameter's default unit); size is bytes; a list is split on
// commas and whitespace with {braced groups} kept whole. Errors use
// Postfix's wording ("bad boolean configuration: NAME = VALUE").
//
// # master.cf
//
// See mastercf.go: one service per logical line, eight fields, "-" for a
// default, "-o name=value" overrides.
package config
