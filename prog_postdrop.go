package main

import "postern/postdrop"

func init() { programs["postdrop"] = postdrop.Main }
