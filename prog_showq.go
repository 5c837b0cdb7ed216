package main

import "postern/showq"

func init() { programs["showq"] = showq.Main }
