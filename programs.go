package main

// programs maps every program name to its entry point. Each Main gets the
// full argument vector (args[0] is the name it was invoked by) and returns
// the process exit status. The Makefile links every name listed here into
// bin/ (it asks "postern-multi -list").
var programs = map[string]func(args []string) int{}

func init() {
	programs["-list"] = listPrograms
}
