package main

import "postern/smtp"

// lmtp(8) is the smtp program in LMTP mode (it checks its program name).
func init() { programs["lmtp"] = smtp.Main }
