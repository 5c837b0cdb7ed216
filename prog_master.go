package main

import "postern/master"

func init() { programs["master"] = master.Main }
