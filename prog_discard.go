package main

import "postern/discard"

func init() { programs["discard"] = discard.Main }
