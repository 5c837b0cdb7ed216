package main

import "postern/postmap"

func init() { programs["postmap"] = postmap.Main }
