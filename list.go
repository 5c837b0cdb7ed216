package main

import (
	"fmt"
	"sort"
)

// listPrograms prints every program name, one per line; the Makefile uses
// it to create the links in bin/.
func listPrograms(args []string) int {
	names := make([]string, 0, len(programs))
	for n := range programs {
		if n != "-list" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Println(n)
	}
	return 0
}
