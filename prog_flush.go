package main

import "postern/flush"

func init() { programs["flush"] = flush.Main }
