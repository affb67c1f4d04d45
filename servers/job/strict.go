package job

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"brun/base/textdist"
)

// Bounds of a job value. A job is a few hundred bytes; these bounds keep a
// hostile or broken value from costing the agent or the console more than
// a job's worth of memory and time (a value nesting 9,000 deep once made
// every job listing 162 MB).
const (
	// MaxValueBytes bounds a job value.
	MaxValueBytes = 64 << 10
	// MaxDepth bounds how deeply objects and arrays nest in a job value,
	// the job's own object counting as 1.
	MaxDepth = 16
	// MaxNameBytes bounds a job name.
	MaxNameBytes = 128
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// ValidName reports whether name can name a job: 1 to 128 of
// [A-Za-z0-9._-], and not "." or "..". A job key is
// <prefix>job/<agent-id>/<name>; a name outside this set (empty, with a
// '/', with spaces) is reported as invalid and never runs.
func ValidName(name string) bool {
	return nameRE.MatchString(name) && name != "." && name != ".."
}

// NameError explains why name is not a valid job name, or returns "".
func NameError(name string) string {
	switch {
	case name == "":
		return "the job name is empty (a job key is <prefix>job/<agent-id>/<name>)"
	case strings.Contains(name, "/"):
		return fmt.Sprintf("job name %q holds a '/' (a job key is <prefix>job/<agent-id>/<name>)", name)
	case !ValidName(name):
		return fmt.Sprintf("job name %q is not 1 to %d of A-Z a-z 0-9 . _ - (and not . or ..)", name, MaxNameBytes)
	}
	return ""
}

// jobFields and multilineFields are the exact member names of a job and
// of its multiline object. encoding/json matches names without regard to
// case, so {"PATH": ...} would pass as path; the shape check makes names
// exact first.
var (
	jobFields       = []string{"path", "topic", "exclude", "multiline", "max_line_bytes", "encoding", "fields", "json", "include_lines", "exclude_lines", "start", "ignore_older", "timezone", "timestamp", "level", "message"}
	multilineFields = []string{"pattern", "negate", "match", "max_lines", "timeout"}
	timestampFields = []string{"layout", "field", "pattern"}
	levelFields     = []string{"field", "pattern"}
	messageFields   = []string{"field"}
)

// checkShape walks data's tokens before anything is decoded: the value
// must be at most MaxValueBytes, nest at most MaxDepth, hold no member
// name twice in one object, and name the job's and multiline's members
// exactly. Every problem found is returned; a syntax error stops the walk
// and is left for the decoder to describe.
func checkShape(data []byte) []FieldError {
	if len(data) > MaxValueBytes {
		return []FieldError{{Field: "json", Reason: fmt.Sprintf("the job value is %d bytes; at most %d", len(data), MaxValueBytes)}}
	}
	var errs []FieldError
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()

	// One frame per open object or array: the member names seen, the path
	// used in messages, and which names are allowed (nil: any).
	type frame struct {
		object  bool
		path    string
		names   map[string]bool
		allowed []string
		key     string // the last member name read, while its value is read
		wantKey bool
	}
	var stack []*frame
	childPath := func() string {
		if len(stack) == 0 {
			return ""
		}
		top := stack[len(stack)-1]
		if !top.object {
			return top.path + "[]"
		}
		if top.path == "" {
			return top.key
		}
		return top.path + "." + top.key
	}
	// value is called before each value token: it marks the member as read.
	value := func() {
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return errs
		}
		if err != nil {
			return errs // the decoder reports the syntax error with its offset
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				path := childPath()
				value()
				if len(stack)+1 > MaxDepth {
					return append(errs, FieldError{Field: fieldOr(path, "json"), Reason: fmt.Sprintf("nests deeper than %d levels", MaxDepth)})
				}
				f := &frame{object: d == '{', path: path, wantKey: true}
				if f.object {
					f.names = map[string]bool{}
					switch path {
					case "":
						f.allowed = jobFields
					case "multiline":
						f.allowed = multilineFields
					case "timestamp":
						f.allowed = timestampFields
					case "level":
						f.allowed = levelFields
					case "message":
						f.allowed = messageFields
					}
				}
				stack = append(stack, f)
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top != nil && top.object && top.wantKey {
			name := tok.(string)
			top.key, top.wantKey = name, false
			where := name
			if name == "" {
				where = `""` // a member named by the empty string, shown so
			}
			if top.path != "" {
				where = top.path + "." + where
			}
			switch {
			case top.names[name]:
				errs = append(errs, FieldError{Field: where, Reason: "is given twice"})
			case top.allowed != nil && !contains(top.allowed, name):
				errs = append(errs, FieldError{Field: where, Reason: unknownReason(name, top.allowed)})
			}
			top.names[name] = true
			continue
		}
		value()
	}
}

func fieldOr(path, def string) string {
	if path == "" {
		return def
	}
	return path
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unknownReason says that name is not a member, suggesting the one it
// most likely meant.
func unknownReason(name string, known []string) string {
	reason := "is not a job field (known: " + strings.Join(known, ", ") + ")"
	if guess := closest(name, known); guess != "" {
		reason += fmt.Sprintf("; did you mean %q?", guess)
	}
	return reason
}

// closest returns the known name nearest to name (case-insensitive edit
// distance of at most 2, or the same letters in another case), or "".
func closest(name string, known []string) string {
	lower := strings.ToLower(name)
	type cand struct {
		name string
		d    int
	}
	var cands []cand
	for _, k := range known {
		if d := textdist.Distance(lower, k); d <= 2 {
			cands = append(cands, cand{k, d})
		}
	}
	if len(cands) == 0 {
		return ""
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].d < cands[j].d })
	return cands[0].name
}
