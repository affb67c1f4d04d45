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
	} {
		m[w] = w
	}
	return m
}()

// maxLevelWords is how many words after the time are looked at for the
// level: "2006-01-02 15:04:05,000 [main] INFO", "... - name - INFO -".
const maxLevelWords = 3

// Level returns the level of line, looking at the few words that follow
// the time (from, the end Time returned; 0 when the line has no time) and
// at a logfmt "level=" within the first 256 bytes. A word counts only when
// it is all upper or all lower case, so "Error" in prose is not a level.
// It returns "" when none is found.
func Level(line []byte, from int) string {
	i := from
	for w := 0; w < maxLevelWords && i < len(line) && i < from+64; w++ {
		for i < len(line) && isSep(line[i]) {
			i++
		}
		j := i
		for j < len(line) && !isSep(line[j]) {
			j++
		}
		if lv := word(line[i:j]); lv != "" {
			return lv
		}
		i = j
	}
	head := line[:min(len(line), 256)]
	if k := bytes.Index(head, []byte("level=")); k >= 0 && (k == 0 || line[k-1] == ' ') {
		j := k + 6
		if j < len(head) && head[j] == '"' {
			j++
		}
		e := j
		for e < len(head) && !isSep(head[e]) && head[e] != '"' {
			e++
		}
		return word(head[j:e])
	}
	return ""
}

// word returns the level a word names, or "".
func word(w []byte) string {
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
			lower = false
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
