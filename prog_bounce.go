package main

import "postern/bounce"

func init() { programs["bounce"] = bounce.Main }
