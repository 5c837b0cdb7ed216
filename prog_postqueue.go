package main

import "postern/postqueue"

func init() { programs["postqueue"] = postqueue.Main }
