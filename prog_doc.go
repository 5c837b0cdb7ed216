package main

// Each program registers itself in a file of its own, prog_NAME.go, so that
// adding a program touches no shared file:
//
//	func init() { programs["postconf"] = postconf.Main }
