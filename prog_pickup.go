package main

import "postern/pickup"

func init() { programs["pickup"] = pickup.Main }
