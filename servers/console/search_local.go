package console

import (
	"fmt"
	"strings"
	"time"

	"brun/servers/filestore"
)

// localQuery is q as local mode reads it: field:value terms, each of which
// must hold (message:x holds x, other fields equal it, case aside), and
// words or "quoted phrases" the message must hold. AND between them is
// allowed; OR, NOT and parentheses are Elasticsearch's only.
type localQuery struct {
	fields [][2]string // path, lower-case value
	words  []string    // lower case
}

func parseLocalQuery(q string) (localQuery, error) {
	var lq localQuery
	for rest := strings.TrimSpace(q); rest != ""; rest = strings.TrimSpace(rest) {
		var tok string
		if rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return lq, fmt.Errorf("a quote is not closed")
			}
			tok, rest = rest[:end+2], rest[end+2:]
		} else if i := strings.IndexAny(rest, " \t"); i >= 0 {
			tok, rest = rest[:i], rest[i:]
			// field:"quoted value"
			if strings.HasSuffix(tok, `:"`) || (strings.Contains(tok, `:"`) && !strings.HasSuffix(tok, `"`)) {
				end := strings.IndexByte(rest, '"')
				if end < 0 {
					return lq, fmt.Errorf("a quote is not closed")
				}
				tok, rest = tok+rest[:end+1], rest[end+1:]
			}
		} else {
			tok, rest = rest, ""
		}
		switch tok {
		case "AND", "&&":
			continue
		case "OR", "NOT", "||", "!":
			return lq, fmt.Errorf("%s needs Elasticsearch; local mode takes field:value terms and words, all of which must hold", tok)
		}
		if strings.ContainsAny(tok[:1], "()") || strings.ContainsAny(tok[len(tok)-1:], "()") {
			return lq, fmt.Errorf("parentheses need Elasticsearch; local mode takes field:value terms and words, all of which must hold")
		}
		if tok[0] != '"' {
			if field, value, ok := strings.Cut(tok, ":"); ok && field != "" && value != "" {
				lq.fields = append(lq.fields, [2]string{field, strings.ToLower(strings.Trim(value, `"`))})
				continue
			}
		}
		if w := strings.ToLower(strings.Trim(tok, `"`)); w != "" {
			lq.words = append(lq.words, w)
		}
	}
	return lq, nil
}

// localDoc is what a local search reads of a document.
type localDoc struct {
	raw   []byte
	at    time.Time
	id    string
	level string
}

// before orders documents as Elasticsearch's sort does: @timestamp, then
// event.id, both descending.
func (d localDoc) before(o localDoc) bool {
	if c := d.at.Compare(o.at); c != 0 {
		return c > 0
	}
	return d.id > o.id
}

// matches reports whether doc holds every term of q.
func (q localQuery) matches(doc map[string]any) bool {
	msg := strings.ToLower(filestore.Text(doc["message"]))
	for _, f := range q.fields {
		v := strings.ToLower(filestore.Field(doc, f[0]))
		if f[0] == "message" {
			if !strings.Contains(v, f[1]) {
				return false
			}
		} else if v != f[1] {
			return false
		}
	}
	for _, w := range q.words {
		if !strings.Contains(msg, w) {
			return false
		}
	}
	return true
}

// mayMatch reports whether a document may hold q's words, from its bytes
// alone, so that most documents of a word search need no decoding: a line
// of ASCII without a backslash holds its message as written, so a word
// the line does not hold (case aside) its message does not either. A
// word that a number's text may hold (fmt's "1e+21" of a message 1e21)
// is left to the decoded document.
func (q localQuery) mayMatch(raw []byte) bool {
	if len(q.words) == 0 {
		return true
	}
	for _, c := range raw {
		if c >= 0x80 || c == '\\' {
			return true
		}
	}
	for _, w := range q.words {
		if strings.Trim(w, "0123456789.e+-") != "" && !containsLower(raw, w) {
			return false
		}
	}
	return true
}

// containsLower reports whether ASCII s holds w, a lower-case word, case
// aside.
func containsLower(s []byte, w string) bool {
	if w == "" {
		return true
	}
	first := w[0]
	for i := 0; i+len(w) <= len(s); i++ {
		if lowerASCII(s[i]) != first {
			continue
		}
		j := 1
		for j < len(w) && lowerASCII(s[i+j]) == w[j] {
			j++
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
