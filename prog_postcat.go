package main

import "postern/postcat"

func init() { programs["postcat"] = postcat.Main }
