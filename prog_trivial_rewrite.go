package main

import trivialrewrite "postern/trivial-rewrite"

func init() { programs["trivial-rewrite"] = trivialrewrite.Main }
