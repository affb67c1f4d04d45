package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// Spec is one collection job: which file to tail and where its lines go.
type Spec struct {
	// Path is the absolute path of the file to tail.
	Path string `json:"path"`
	// Topic is the Kafka topic the file's lines are sent to.
	Topic string `json:"topic"`
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

// Parse decodes and validates a job value. A value with unknown fields, bad
// JSON or bad values returns an *Error naming each field.
func Parse(data []byte) (Spec, error) {
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		field := "json"
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			field = ute.Field
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			field = strings.Trim(name, `"`)
			return Spec{}, &Error{Fields: []FieldError{{Field: field, Reason: "is not a job field"}}}
		}
		return Spec{}, &Error{Fields: []FieldError{{Field: field, Reason: fmt.Sprintf("bad JSON: %v", err)}}}
	}
	if dec.More() {
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
	switch {
	case s.Path == "":
		fs = append(fs, FieldError{"path", "is required"})
	case !filepath.IsAbs(s.Path):
		fs = append(fs, FieldError{"path", fmt.Sprintf("%q is not an absolute path", s.Path)})
	case filepath.Clean(s.Path) != s.Path:
		fs = append(fs, FieldError{"path", fmt.Sprintf("%q is not clean (write %q)", s.Path, filepath.Clean(s.Path))})
	}
	switch {
	case s.Topic == "":
		fs = append(fs, FieldError{"topic", "is required"})
	case !topicName.MatchString(s.Topic) || s.Topic == "." || s.Topic == "..":
		fs = append(fs, FieldError{"topic", fmt.Sprintf("%q is not a valid Kafka topic name ([a-zA-Z0-9._-], at most 249)", s.Topic)})
	}
	if len(fs) > 0 {
		return &Error{Fields: fs}
	}
	return nil
}

// Equal reports whether two specs describe the same work; the scheduler
// restarts a job only when this is false.
func (s Spec) Equal(o Spec) bool { return s == o }
