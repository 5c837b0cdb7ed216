package main

import "postern/smtp"

// smtp(8) also runs as the "relay" service (master.cf), under the same
// program name.
func init() { programs["smtp"] = smtp.Main }
