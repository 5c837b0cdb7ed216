package dsn

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// The original message of the reference's bounce experiment 1.
const refOriginal = `Received: from client.example.com (localhost [127.0.0.1])
	by mx.pfref.test (Postfix) with ESMTP id 1914C984004;
	Sat, 21 Nov 2026 23:28:35 +0000 (UTC)
From: PFB <pfb@pfref.test>
To: rej1@remote.test, tmp1@remote.test, ok1@remote.test
Subject: bounce experiment 1
Message-ID: <bounce-exp-1@pfref.test>
Date: Sat, 21 Nov 2026 23:28:35 +0000 (UTC)

Hello, this is the original body.
Second line.
`

func refReport() *Report {
	return &Report{
		Class:      Failure,
		MyHostname: "mx.pfref.test",
		MyOrigin:   "pfref.test",
		MailName:   "Postfix",
		Time:       time.Unix(1795303736, 0).UTC(),
		QueueID:    "6B26B984201",
		To:         "pfb@pfref.test",
		SizeLimit:  50000,
		Original: Original{
			QueueID:  "1914C984004",
			Sender:   "pfb@pfref.test",
			Arrival:  time.Date(2026, 11, 21, 23, 28, 35, 0, time.UTC),
			Encoding: "8bit",
			Size:     int64(len(refOriginal)),
			Content:  strings.NewReader(refOriginal),
		},
		Recipients: []Recipient{{
			Address:  "rej1@remote.test",
			Original: "rej1@remote.test",
			ORCPT:    "rfc822;rej1@remote.test",
			Action:   "failed",
			Status:   "5.1.1",
			MTAType:  "dns",
			MTAName:  "127.0.0.1",
			DiagType: "smtp",
			DiagText: "550 5.1.1 <rej1@remote.test>: Recipient address rejected: User unknown",
			Reason:   "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <rej1@remote.test>: Recipient address rejected: User unknown (in reply to RCPT TO command)",
		}},
	}
}

func render(t *testing.T, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// What a Postfix 3.7 user receives, byte for byte (reference
// queue-and-delivery.md, "Exact MIME structure", without the Return-Path:
// that local delivery adds).
func TestFailureReportIsPostfixByteForByte(t *testing.T) {
	want, err := os.ReadFile("testdata/postfix-3.7-failure.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := render(t, refReport())
	if got != string(want) {
		t.Errorf("report differs from Postfix's:\n%s", diff(string(want), got))
	}
}

func diff(want, got string) string {
	w := strings.Split(want, "\n")
	g := strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want " + quote(wl) + "\n  got  " + quote(gl) + "\n")
		}
	}
	return b.String()
}

func quote(s string) string { return "\"" + strings.ReplaceAll(s, "\t", "\\t") + "\"" }

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n%s", path, diff(string(want), got))
	}
}

func TestReportGolden(t *testing.T) {
	cases := map[string]func(r *Report){
		// RET=HDRS: headers only, "Undelivered Message Headers".
		"failure-hdrs": func(r *Report) { r.Original.Ret = RetHdrs },
		// Larger than bounce_size_limit: headers only.
		"failure-too-big": func(r *Report) { r.SizeLimit = 100 },
		// Expanded recipient, local diagnostic, 7bit original, ENVID.
		"failure-local": func(r *Report) {
			r.Original.Encoding = "7bit"
			r.Original.EnvelopeID = "env-id-42"
			r.Recipients = []Recipient{{
				Address: "x@pfref.test", Original: "x@oldcanon.test",
				Action: "failed", Status: "5.1.1",
				Reason: `unknown user: "x"`,
			}, {
				Address: "a-very-long-local-part-for-wrapping@pfref.test",
				Action:  "failed", Status: "4.4.1",
				Reason: "delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:2849: Connection refused and then a much longer explanation that needs wrapping",
			}}
		},
		// Double bounce: postmaster copy of a null-sender message.
		"postmaster-copy": func(r *Report) {
			r.PostmasterCopy = true
			r.To = "postmaster"
			r.Original.Sender = ""
			r.Original.Encoding = ""
		},
		"delay": func(r *Report) {
			r.Class = Delay
			r.DelayWarningTime = 4*time.Hour + 30*time.Minute
			r.MaxQueueLifetime = 5 * 24 * time.Hour
			r.Recipients[0].Action = "delayed"
			r.Recipients[0].Status = "4.2.0"
			r.Recipients[0].DiagText = "451 4.2.0 try again later"
			r.Recipients[0].Reason = "host 127.0.0.1[127.0.0.1] said: 451 4.2.0 try again later (in reply to RCPT TO command)"
		},
		"success": func(r *Report) {
			r.Class = Success
			r.Recipients = []Recipient{{
				Address: "pfa@pfref.test", Action: "delivered", Status: "2.0.0",
				Reason: "delivery via local: delivered to mailbox",
			}}
		},
		"unavailable": func(r *Report) { r.Original.Content = nil },
		"smtputf8": func(r *Report) {
			r.Original.SMTPUTF8 = true
			r.Original.Sender = "jöran@pfref.test"
			r.To = "jöran@pfref.test"
			r.Recipients[0].Address = "üser@remote.test"
			r.Recipients[0].ORCPT = ""
			r.Recipients[0].Original = ""
		},
		// Hostile text from a remote reply cannot start a header or a
		// boundary line.
		"hostile": func(r *Report) {
			r.To = `odd "name"@example.org`
			r.Recipients[0].Reason = "550 no\n--1914C984004.1795303736/mx.pfref.test--\r\nX-Evil: 1\x00\xff"
			r.Recipients[0].DiagText = "550 no\nX-Evil: 2"
		},
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			r := refReport()
			mod(r)
			golden(t, name, render(t, r))
		})
	}
}

func TestOriginalWithoutFinalNewline(t *testing.T) {
	r := refReport()
	r.Original.Content = strings.NewReader("Subject: x\n\nno newline")
	r.Original.Size = 23
	got := render(t, r)
	if !strings.HasSuffix(got, "\nno newline\n\n--1914C984004.1795303736/mx.pfref.test--\n") {
		t.Errorf("tail: %q", got[len(got)-80:])
	}
}

func TestHeadersOnlyStopsAtBody(t *testing.T) {
	r := refReport()
	r.Original.Ret = RetHdrs
	long := "X-Long: " + strings.Repeat("a", 100000) + "\n"
	r.Original.Content = strings.NewReader("Subject: x\n" + long + "\tfolded\nnot a header line\nSubject: body\n")
	got := render(t, r)
	if !strings.Contains(got, "\tfolded\n\n--") || strings.Contains(got, "not a header") {
		t.Errorf("headers-only copy wrong: %q", got[len(got)-200:])
	}
}

func TestLineWrap(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"short", []string{"short"}},
		{strings.Repeat("x", 100), []string{strings.Repeat("x", 100)}},
		{strings.Repeat("ab ", 40), []string{
			strings.TrimSpace(strings.Repeat("ab ", 26)),
			"    " + strings.TrimSpace(strings.Repeat("ab ", 14)),
		}},
		{"a  b", []string{"a  b"}},
	}
	for _, c := range cases {
		var got []string
		lineWrap(c.in, 79, 4, func(indent int, s string) { got = append(got, strings.Repeat(" ", indent)+s) })
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("wrap(%q) = %q, want %q", c.in, got, c.want)
		}
		for _, l := range got {
			if len(l) > 79 && strings.Contains(strings.TrimSpace(l), " ") {
				t.Errorf("line longer than 79 with a blank: %q", l)
			}
		}
	}
}

func TestDate(t *testing.T) {
	d := Date(time.Date(2026, 11, 1, 3, 4, 5, 0, time.UTC))
	if d != "Sun,  1 Nov 2026 03:04:05 +0000 (UTC)" {
		t.Errorf("Date = %q", d)
	}
}

func TestQuoteLocal(t *testing.T) {
	for in, want := range map[string]string{
		"a@b":              "a@b",
		"a.b+c@d":          "a.b+c@d",
		"a b@c":            `"a b"@c`,
		`o"q@c`:            `"o\"q"@c`,
		`"already q"@c`:    `"already q"@c`,
		".lead@c":          `".lead"@c`,
		"MAILER-DAEMON":    "MAILER-DAEMON",
		"user@[127.0.0.1]": "user@[127.0.0.1]",
	} {
		if got := QuoteLocal(in); got != want {
			t.Errorf("QuoteLocal(%q) = %q, want %q", in, got, want)
		}
	}
}

// A mail reader's MIME parser (Python's email package) sees a
// multipart/report of report-type delivery-status with the fields where
// RFC 3464 puts them.
func TestPythonEmailParsesReport(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	for _, mod := range []func(*Report){
		func(*Report) {},
		func(r *Report) { r.Original.Ret = RetHdrs },
		func(r *Report) { r.Class = Delay; r.MaxQueueLifetime = 5 * 24 * time.Hour },
	} {
		r := refReport()
		mod(r)
		report := render(t, r)
		script := `
import email, sys
from email import policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.default)
assert m.get_content_type() == "multipart/report", m.get_content_type()
assert m.get_param("report-type") == "delivery-status", m.get_param("report-type")
parts = list(m.iter_parts())
assert len(parts) == 3, len(parts)
assert parts[0].get_content_type() == "text/plain"
assert "This is the mail system at host mx.pfref.test." in parts[0].get_content()
ds = parts[1]
assert ds.get_content_type() == "message/delivery-status", ds.get_content_type()
blocks = ds.get_payload()
assert blocks[0]["Reporting-MTA"] == "dns; mx.pfref.test", blocks[0]["Reporting-MTA"]
assert blocks[0]["X-Postfix-Queue-ID"] == "1914C984004"
assert blocks[0]["Arrival-Date"]
r = blocks[1]
assert r["Final-Recipient"] == "rfc822; rej1@remote.test", r["Final-Recipient"]
assert r["Original-Recipient"] == "rfc822;rej1@remote.test"
assert r["Action"] in ("failed", "delayed"), r["Action"]
assert r["Status"] == "5.1.1"
assert r["Remote-MTA"] == "dns; 127.0.0.1"
assert r["Diagnostic-Code"].startswith("smtp; 550 5.1.1"), r["Diagnostic-Code"]
third = parts[2]
if third.get_content_type() == "message/rfc822":
    orig = third.get_payload()[0]
    assert orig["Subject"] == "bounce experiment 1", orig["Subject"]
    assert "Second line." in orig.get_content()
else:
    assert third.get_content_type() == "text/rfc822-headers", third.get_content_type()
    assert "Subject: bounce experiment 1" in third.get_content()
    assert "Second line." not in third.get_content()
print(r["Action"])
`
		cmd := exec.Command(py, "-c", script)
		cmd.Stdin = strings.NewReader(report)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("python3 email: %v\n%s\nreport:\n%s", err, out, report)
		}
	}
}
