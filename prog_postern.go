package main

import "postern/postern"

func init() { programs["postern"] = postern.Main }
