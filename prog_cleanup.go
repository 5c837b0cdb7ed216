package main

import "postern/cleanup"

func init() { programs["cleanup"] = cleanup.Main }
