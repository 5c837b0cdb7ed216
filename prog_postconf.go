package main

import "postern/postconf"

func init() { programs["postconf"] = postconf.Main }
