package enrich

import "bytes"

// levels are the level words recognized, each with the value written to
// log.level: the word in lower case, as ECS suggests keeping the level as
// written (so "warning" stays "warning", "err" stays "err").
var levels = func() map[string]string {
	m := map[string]string{}
	for _, w := range []string{
		"trace", "debug", "info", "notice", "warn", "warning", "error", "err",
		"crit", "critical", "fatal", "alert", "emerg", "emergency", "severe", "panic",
		"verbose", "dbg",
	} {
		m[w] = w
	}
	return m
}()

// maxLevelWords is how many words after the time are looked at for the
// level: "2006-01-02 15:04:05,000 [main] INFO", "... - name - INFO -",
// HDFS's "081109 203615 148 INFO".
const maxLevelWords = 4

// severities are the syslog severities by number, for a line that starts
// with a priority ("<34>1 2003-10-11T22:14:15.003Z ...").
var severities = [8]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// Level returns the level of line, looking where formats put it: the
// letter that starts a klog line, the priority of a syslog line, the few
// words that follow the time (from, the end Time returned; 0 when the line
// has no time), the letter column of Android's logcat, and a logfmt
// "level=" or JSON "level": within the first 256 bytes. A word counts
// when it is all upper or all lower case, or capitalized ("Warning") when
// it comes right after the time or in brackets, so "Error" in prose is
// not a level. It returns "" when none is found.
func Level(line []byte, from int) string {
	if from > 0 && from <= 32 && len(line) > 5 && isDigit(line[1]) && line[5] == ' ' {
		if lv := letter(line[0], "IWEF"); lv != "" { // klog: I1203 07:31:37.123456
			return lv
		}
	}
	if len(line) > 3 && line[0] == '<' && isDigit(line[1]) {
		pri, n := leadingInt(line[1:], 3)
		if 1+n < len(line) && line[1+n] == '>' && pri < 192 {
			return severities[pri%8]
		}
	}
	i := from
	numbers := true // only numbers (PIDs, thread ids) so far since the time
	for w := 0; w < maxLevelWords && i < len(line) && i < from+64; w++ {
		for i < len(line) && isSep(line[i]) {
			i++
		}
		j := i
		for j < len(line) && !isSep(line[j]) {
			j++
		}
		if j == i+1 && from > 0 && numbers && j < len(line) && line[j] == ' ' {
			if lv := letter(line[i], "VDIWEF"); lv != "" { // logcat: 03-17 16:13:38.811  1702  2395 D Tag: msg
				return lv
			}
		}
		bracketed := i > 0 && (line[i-1] == '[' || line[i-1] == '<')
		if lv := word(line[i:j], (w == 0 && from > 0) || bracketed); lv != "" {
			return lv
		}
		numbers = numbers && j > i && allDigits(line[i:j])
		i = j
	}
	head := line[:min(len(line), 256)]
	k := bytes.Index(head, []byte("level"))
	if k < 0 {
		return ""
	}
	j := k + 5
	switch {
	case bytes.HasPrefix(head[j:], []byte("=")) && (k == 0 || line[k-1] == ' '):
		j++
	case bytes.HasPrefix(head[j:], []byte(`":`)) && k > 0 && line[k-1] == '"':
		j += 2
		for j < len(head) && head[j] == ' ' {
			j++
		}
	default:
		return ""
	}
	if j < len(head) && head[j] == '"' {
		j++
	}
	e := j
	for e < len(head) && !isSep(head[e]) && head[e] != '"' {
		e++
	}
	return word(head[j:e], true)
}

// letter returns the level a format's single letter names, when it is one
// of those the format uses.
func letter(c byte, allowed string) string {
	if bytes.IndexByte([]byte(allowed), c) < 0 {
		return ""
	}
	switch c {
	case 'V':
		return "trace"
	case 'D':
		return "debug"
	case 'I':
		return "info"
	case 'W':
		return "warn"
	case 'E':
		return "error"
	case 'F':
		return "fatal"
	}
	return ""
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// word returns the level a word names, or "". title allows a capitalized
// word ("Warning") besides all upper and all lower case.
func word(w []byte, title bool) string {
	if len(w) < 3 || len(w) > 9 {
		return ""
	}
	var buf [9]byte
	upper, lower := true, true
	for k, c := range w {
		switch {
		case c >= 'a' && c <= 'z':
			upper = false
			buf[k] = c
		case c >= 'A' && c <= 'Z':
			if k > 0 {
				lower = false
			}
			if k == 0 {
				lower = lower && title
			}
			buf[k] = c + 'a' - 'A'
		default:
			return ""
		}
	}
	if !upper && !lower {
		return ""
	}
	return levels[string(buf[:len(w)])] // no allocation: the compiler looks up without copying
}

// isSep reports the bytes that surround a level word.
func isSep(c byte) bool {
	switch c {
	case ' ', '\t', '[', ']', '(', ')', '<', '>', ':', '|', ',', '-', '=':
		return true
	}
	return false
}
