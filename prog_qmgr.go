package main

import "postern/qmgr"

func init() { programs["qmgr"] = qmgr.Main }
