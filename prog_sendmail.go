package main

import "postern/sendmail"

func init() {
	programs["sendmail"] = sendmail.Main
	programs["mailq"] = sendmail.Main
	programs["newaliases"] = sendmail.Main
}
