package main

import "postern/local"

func init() { programs["local"] = local.Main }
