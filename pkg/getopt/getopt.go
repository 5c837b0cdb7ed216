// Package getopt parses command-line options as POSIX getopt(3) does, and
// so as every Postfix command does: single-letter options, combined flags
// ("-nf"), an option's argument attached ("-s100") or in the next argument
// ("-s 100"), "--" ending the options, and the first operand ending them
// too (no GNU-style permutation).
//
// Errors carry glibc's wording, which Postfix's commands print before their
// usage line: "invalid option -- 'z'", "option requires an argument -- 's'".
package getopt

import (
	"fmt"
	"strings"
)

// Error is an unknown option or a missing option argument.
type Error struct {
	Opt        byte
	MissingArg bool
}

func (e *Error) Error() string {
	if e.MissingArg {
		return fmt.Sprintf("option requires an argument -- '%c'", e.Opt)
	}
	return fmt.Sprintf("invalid option -- '%c'", e.Opt)
}

// Parse walks args (without the program name) against optstring, in which a
// letter followed by ':' takes an argument, and calls fn for each option in
// order. It returns the operands, or the first error: an *Error, or what fn
// returned.
func Parse(args []string, optstring string, fn func(opt byte, arg string) error) ([]string, error) {
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		for j := 1; j < len(a); j++ {
			ch := a[j]
			k := strings.IndexByte(optstring, ch)
			if k < 0 || ch == ':' {
				return nil, &Error{Opt: ch}
			}
			var arg string
			if k+1 < len(optstring) && optstring[k+1] == ':' {
				switch {
				case j+1 < len(a):
					arg = a[j+1:]
				case i+1 < len(args):
					i++
					arg = args[i]
				default:
					return nil, &Error{Opt: ch, MissingArg: true}
				}
				j = len(a)
			}
			if err := fn(ch, arg); err != nil {
				return nil, err
			}
		}
	}
	return args[i:], nil
}
