package main

import errord "postern/error"

// error(8) also runs as the "retry" service (master.cf), under the same
// program name.
func init() { programs["error"] = errord.Main }
