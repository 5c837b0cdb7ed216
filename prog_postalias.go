package main

import "postern/postalias"

func init() { programs["postalias"] = postalias.Main }
