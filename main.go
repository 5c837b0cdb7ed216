// Command postern is the multi-call executable of the postern mail system.
//
// Like busybox, it looks at the name it was invoked by (argv[0]) and runs
// that program: bin/postconf, bin/postmap, bin/master ... are all links to
// this one executable (see DESIGN.md, "One executable, many programs").
// It can also be called as "postern-multi PROGRAM ARGS..." for tests and
// debugging.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args
	if name == "postern-multi" {
		if len(os.Args) < 2 {
			usage()
		}
		name = os.Args[1]
		args = os.Args[1:]
	}
	prog, ok := programs[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "postern: unknown program name %q\n", name)
		usage()
	}
	// Programs name themselves in messages ("postconf: fatal: ..."), so
	// they get the bare name, not the path they were invoked by.
	args = append([]string{name}, args[1:]...)
	os.Exit(prog(args))
}

func usage() {
	names := make([]string, 0, len(programs))
	for n := range programs {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: postern-multi PROGRAM [ARGS...]\nprograms: %v\n", names)
	os.Exit(2)
}
