package main

import "postern/smtpd"

func init() { programs["smtpd"] = smtpd.Main }
