package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// Defaults of the optional fields.
const (
	DefaultMaxLineBytes      = 1 << 20
	DefaultMultilineMaxLines = 500
	DefaultMultilineTimeout  = 5 * time.Second
	// MaxMaxLineBytes bounds max_line_bytes: a line is held in memory whole
	// and sent as one Kafka record.
	MaxMaxLineBytes = 16 << 20
)

// Spec is one collection job: which files to read, how to cut them into
// events, and where the events go.
type Spec struct {
	// Path is an absolute file path or glob (re-scanned for new files).
	Path string `json:"path"`
	// Topic is the Kafka topic the events are sent to.
	Topic string `json:"topic"`
	// Exclude lists globs of files matched by Path not to read.
	Exclude []string `json:"exclude,omitempty"`
	// Multiline joins continuation lines (stack traces) into one event.
	Multiline *Multiline `json:"multiline,omitempty"`
	// MaxLineBytes is the longest line (or multiline event) sent whole; a
	// longer one is cut there and flagged. 0 means DefaultMaxLineBytes.
	MaxLineBytes int `json:"max_line_bytes,omitempty"`
	// Encoding of the file; lines are decoded to UTF-8. "" means utf-8.
	Encoding string `json:"encoding,omitempty"`
	// Fields are static key/values added to each event under "fields".
	Fields map[string]any `json:"fields,omitempty"`
	// JSON parses each line as a JSON object into the event's "json" field.
	JSON bool `json:"json,omitempty"`
	// IncludeLines, when set, keeps only the events (lines, or multiline
	// events whole) that one of these regular expressions matches.
	IncludeLines []string `json:"include_lines,omitempty"`
	// ExcludeLines drops the events one of these regular expressions
	// matches; applied after IncludeLines, as Filebeat does.
	ExcludeLines []string `json:"exclude_lines,omitempty"`
	// Start is where a file the job has no saved offset for is first read
	// from when it already exists as the job starts: "beginning" (or "")
	// or "end". A file that appears later is always read from its start.
	Start string `json:"start,omitempty"`
	// IgnoreOlder, e.g. "24h" or "7d", skips files the job has no saved
	// offset for and that were not modified within that time. "" reads
	// every file.
	IgnoreOlder string `json:"ignore_older,omitempty"`
	// Timezone is the zone the job's lines write their times in when they
	// write none (event.timezone): an IANA name such as "Asia/Shanghai",
	// an offset such as "+08:00", or "UTC". "" is the agent's host's.
	Timezone string `json:"timezone,omitempty"`
	// Timestamp, Level and Message pin where a line's time, level and
	// message are, instead of leaving them to recognition (pins.go).
	Timestamp *Timestamp `json:"timestamp,omitempty"`
	Level     *Level     `json:"level,omitempty"`
	Message   *Message   `json:"message,omitempty"`
}

// Multiline is Filebeat's pattern/negate/match scheme: a line for which
// pattern matches (inverted by negate) is a continuation line; with match
// "after" it joins the line before it, with "before" the line after it.
type Multiline struct {
	Pattern  string `json:"pattern"`
	Negate   bool   `json:"negate,omitempty"`
	Match    string `json:"match"`               // "after" or "before"
	MaxLines int    `json:"max_lines,omitempty"` // 0 means DefaultMultilineMaxLines
	Timeout  string `json:"timeout,omitempty"`   // e.g. "5s"; "" means DefaultMultilineTimeout
}

// FieldError is one problem with one field of a job.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error lists every problem found in a job value. The console returns its
// Fields as a 400 body; the agent logs it with the job's key.
type Error struct {
	Fields []FieldError
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Reason
	}
	return "invalid job: " + strings.Join(parts, "; ")
}

var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// Parse decodes and validates a job value. A value with unknown or
// misspelt fields (names are exact: "PATH" is not path), a member given
// twice, more than MaxValueBytes, nesting deeper than MaxDepth, bad JSON
// or bad values returns an *Error naming each field.
func Parse(data []byte) (Spec, error) {
	if fs := checkShape(data); len(fs) > 0 {
		return Spec{}, &Error{Fields: fs}
	}
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return Spec{}, &Error{Fields: []FieldError{{Field: ute.Field, Reason: fmt.Sprintf("must be %s, not a JSON %s", ute.Type, ute.Value)}}}
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return Spec{}, &Error{Fields: []FieldError{{Field: strings.Trim(name, `"`), Reason: unknownReason(strings.Trim(name, `"`), jobFields)}}}
		}
		return Spec{}, &Error{Fields: []FieldError{{Field: "json", Reason: fmt.Sprintf("bad JSON: %v", err)}}}
	}
	// Token, not More: More says "no more" at a ']' or '}', and would let
	// `{...}]` through as the job before it.
	if _, err := dec.Token(); err != io.EOF {
		return Spec{}, &Error{Fields: []FieldError{{Field: "json", Reason: "extra data after the job object"}}}
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// Validate checks every field and returns an *Error listing all problems,
// or nil.
func (s Spec) Validate() error {
	var fs []FieldError
	bad := func(field, format string, args ...any) {
		fs = append(fs, FieldError{field, fmt.Sprintf(format, args...)})
	}
	switch {
	case s.Path == "":
		bad("path", "is required")
	case len(s.Path) > MaxPathBytes:
		bad("path", "%.64q... is %d bytes; at most %d", s.Path, len(s.Path), MaxPathBytes)
	case !filepath.IsAbs(s.Path):
		bad("path", "%q is not an absolute path", s.Path)
	case filepath.Clean(s.Path) != s.Path:
		bad("path", "%q is not clean (write %q)", s.Path, filepath.Clean(s.Path))
	default:
		if reason := globProblem(s.Path, true); reason != "" {
			bad("path", "%q %s", s.Path, reason)
		}
	}
	switch {
	case s.Topic == "":
		bad("topic", "is required")
	case !topicName.MatchString(s.Topic) || s.Topic == "." || s.Topic == "..":
		bad("topic", "%q is not a valid Kafka topic name ([a-zA-Z0-9._-], at most 249)", s.Topic)
	}
	for i, g := range s.Exclude {
		if g == "" {
			bad(fmt.Sprintf("exclude[%d]", i), "%q is not a valid glob", g)
		} else if len(g) > MaxPathBytes {
			bad(fmt.Sprintf("exclude[%d]", i), "%.64q... is %d bytes; at most %d", g, len(g), MaxPathBytes)
		} else if reason := globProblem(g, false); reason != "" {
			bad(fmt.Sprintf("exclude[%d]", i), "%q %s", g, reason)
		}
	}
	s.validateFilters(bad)
	s.validatePins(bad)
	if m := s.Multiline; m != nil {
		if m.Pattern == "" {
			bad("multiline.pattern", "is required")
		} else if _, err := regexp.Compile(m.Pattern); err != nil {
			bad("multiline.pattern", "%q is not a valid regular expression: %v", m.Pattern, err)
		}
		if m.Match != "after" && m.Match != "before" {
			bad("multiline.match", "%q is not \"after\" or \"before\"", m.Match)
		}
		if m.MaxLines < 0 {
			bad("multiline.max_lines", "%d is negative", m.MaxLines)
		}
		if m.Timeout != "" {
			if d, err := time.ParseDuration(m.Timeout); err != nil || d <= 0 {
				bad("multiline.timeout", "%q is not a positive duration such as 5s", m.Timeout)
			}
		}
	}
	if s.MaxLineBytes < 0 || s.MaxLineBytes > MaxMaxLineBytes {
		bad("max_line_bytes", "%d is not between 1 and %d", s.MaxLineBytes, MaxMaxLineBytes)
	}
	if s.Encoding != "" && !KnownEncoding(s.Encoding) {
		bad("encoding", "%q is not a known encoding (%s)", s.Encoding, strings.Join(Encodings, ", "))
	}
	for k := range s.Fields {
		if k == "" {
			bad("fields", "a key is empty")
		}
	}
	if len(fs) > 0 {
		return &Error{Fields: fs}
	}
	return nil
}

// Equal reports whether two specs describe the same work; the scheduler
// restarts a job only when this is false. An empty exclude list or fields
// object is the same as none ("exclude": [] adds nothing), so an edit
// between the two does not restart the job.
func (s Spec) Equal(o Spec) bool { return reflect.DeepEqual(s.canonical(), o.canonical()) }

// canonical returns s with an empty Exclude or Fields as nil, the form
// json.Marshal (omitempty) and an absent member give.
func (s Spec) canonical() Spec {
	if len(s.Exclude) == 0 {
		s.Exclude = nil
	}
	if len(s.Fields) == 0 {
		s.Fields = nil
	}
	if len(s.IncludeLines) == 0 {
		s.IncludeLines = nil
	}
	if len(s.ExcludeLines) == 0 {
		s.ExcludeLines = nil
	}
	if s.Start == StartBeginning {
		s.Start = ""
	}
	return s
}

// IsGlob reports whether Path names several files: it holds *, ** (any
// number of directories), ? or [. A path without them is read by its
// name, braces included.
func (s Spec) IsGlob() bool { return strings.ContainsAny(s.Path, "*?[") }

// LineLimit returns max_line_bytes with its default applied.
func (s Spec) LineLimit() int {
	if s.MaxLineBytes == 0 {
		return DefaultMaxLineBytes
	}
	return s.MaxLineBytes
}

// Lines returns max_lines with its default applied.
func (m *Multiline) Lines() int {
	if m.MaxLines == 0 {
		return DefaultMultilineMaxLines
	}
	return m.MaxLines
}

// Wait returns timeout with its default applied.
func (m *Multiline) Wait() time.Duration {
	if d, err := time.ParseDuration(m.Timeout); err == nil && d > 0 {
		return d
	}
	return DefaultMultilineTimeout
}

// Encodings lists the accepted encoding names.
var Encodings = []string{"utf-8", "gbk", "gb18030", "big5", "shift_jis", "euc-jp", "euc-kr", "utf-16le", "utf-16be", "latin1", "iso-8859-2", "iso-8859-15", "windows-1250", "windows-1251", "windows-1252"}

// KnownEncoding reports whether name (any case) is in Encodings.
func KnownEncoding(name string) bool {
	for _, e := range Encodings {
		if strings.EqualFold(e, name) {
			return true
		}
	}
	return false
}
