package main

import "postern/postsuper"

func init() { programs["postsuper"] = postsuper.Main }
