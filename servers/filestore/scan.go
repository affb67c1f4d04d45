package filestore

import (
	"bytes"
	"encoding/json"
	"time"
)

// Reading what a block counts of each document as it is written must cost
// little next to the write itself, so documents are read by quickScan, a
// single pass over the bytes that checks the JSON as encoding/json would
// and picks out the few fields. Whatever it does not read the way the
// console's search does (escapes or non-ASCII bytes in a name or a value
// it picks, numbers that may not fit a float64, deep nesting) sends the
// document to slowFields, which decodes it as the console does.

// readFields reads of a document what its block counts, exactly as the
// console's search reads it: the document must decode as a JSON object
// (into map[string]any), and @timestamp be an RFC 3339 string.
func readFields(doc []byte) fields {
	if f, ok := quickScan(doc); ok {
		return f
	}
	return slowFields(doc)
}

// slowFields decodes doc as the console's search does.
func slowFields(doc []byte) fields {
	var m map[string]any
	if json.Unmarshal(doc, &m) != nil {
		return fields{}
	}
	ts, _ := m["@timestamp"].(string)
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return fields{}
	}
	return fields{ok: true, at: at, key: Key{Level: Field(m, "log.level"), Agent: Field(m, "agent.id"), Topic: Field(m, "event.dataset")}}
}

// scanner walks a JSON document once, keeping what quickScan picks.
// unsure is set when the document needs slowFields, bad when it is no
// JSON.
type scanner struct {
	b      []byte
	i      int
	unsure bool
	bad    bool
	p      picked
}

// picked are the raw values quickScan keeps: the last of each name, as a
// decoder into a map keeps.
type picked struct {
	timestamp, levelFlat, agentFlat, datasetFlat []byte
	log, agent, event                            []byte
	level, id, dataset                           []byte // of the last log, agent, event
}

// Where an object is, for what it picks.
const (
	inOther = iota
	inTop
	inLog
	inAgent
	inEvent
)

// quickScan reads doc's fields; ok is false when slowFields must.
func quickScan(doc []byte) (f fields, ok bool) {
	s := &scanner{b: doc}
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return fields{}, true // not an object: no fields, for sure
	}
	s.object(1, inTop)
	s.space()
	if s.i != len(s.b) {
		s.bad = true
	}
	if s.unsure {
		return fields{}, false
	}
	if s.bad {
		return fields{}, true
	}
	p := &s.p
	ts, sure := quickText(p.timestamp)
	if !sure {
		return fields{}, false
	}
	if p.timestamp == nil || p.timestamp[0] != '"' {
		return fields{}, true
	}
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return fields{}, true
	}
	f = fields{ok: true, at: at}
	var s1, s2, s3 bool
	f.key.Level, s1 = pick(p.levelFlat, p.log, p.level)
	f.key.Agent, s2 = pick(p.agentFlat, p.agent, p.id)
	f.key.Topic, s3 = pick(p.datasetFlat, p.event, p.dataset)
	return f, s1 && s2 && s3
}

// pick is Field of a name written flat (flat non-nil) or in an object
// (nested, its value there); sure is false when slowFields must read it.
func pick(flat, object, nested []byte) (text string, sure bool) {
	if flat != nil {
		return quickText(flat)
	}
	if len(object) == 0 || object[0] != '{' {
		return "", true // missing, or not an object
	}
	return quickText(nested)
}

// record keeps a member's value when it is one picked.
func (s *scanner) record(in int, name, value []byte) {
	p := &s.p
	switch in {
	case inTop:
		switch string(name) {
		case "@timestamp":
			p.timestamp = value
		case "log.level":
			p.levelFlat = value
		case "agent.id":
			p.agentFlat = value
		case "event.dataset":
			p.datasetFlat = value
		case "log":
			p.log = value
		case "agent":
			p.agent = value
		case "event":
			p.event = value
		}
	case inLog:
		if string(name) == "level" {
			p.level = value
		}
	case inAgent:
		if string(name) == "id" {
			p.id = value
		}
	case inEvent:
		if string(name) == "dataset" {
			p.dataset = value
		}
	}
}

// child is where the value of member name of an object in is, forgetting
// what an earlier member of that name gave.
func (s *scanner) child(in int, name []byte) int {
	if in != inTop {
		return inOther
	}
	switch string(name) {
	case "log":
		s.p.level = nil
		return inLog
	case "agent":
		s.p.id = nil
		return inAgent
	case "event":
		s.p.dataset = nil
		return inEvent
	}
	return inOther
}

// quickText is Text of a raw scalar; sure is false for what it does not
// read as encoding/json would.
func quickText(raw []byte) (string, bool) {
	switch {
	case len(raw) == 0, raw[0] == '{', raw[0] == '[', string(raw) == "null":
		return "", true
	case string(raw) == "true", string(raw) == "false":
		return string(raw), true
	case raw[0] == '"':
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') >= 0 || !ascii(inner) {
			return "", false
		}
		return string(inner), true
	}
	return "", false // a number: its text is fmt's of a float64
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// maxQuickDepth is the deepest nesting quickScan follows.
const maxQuickDepth = 64

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value skips one value and returns its bytes.
func (s *scanner) value(depth int) []byte {
	s.space()
	if s.i >= len(s.b) {
		s.bad = true
		return nil
	}
	start := s.i
	switch c := s.b[s.i]; {
	case c == '{':
		s.object(depth+1, inOther)
	case c == '[':
		s.array(depth + 1)
	case c == '"':
		s.str()
	case c == '-' || (c >= '0' && c <= '9'):
		s.number()
	case bytes.HasPrefix(s.b[s.i:], []byte("true")):
		s.i += 4
	case bytes.HasPrefix(s.b[s.i:], []byte("false")):
		s.i += 5
	case bytes.HasPrefix(s.b[s.i:], []byte("null")):
		s.i += 4
	default:
		s.bad = true
	}
	return s.b[start:s.i]
}

// object skips an object, recording what it picks of one in in.
func (s *scanner) object(depth, in int) {
	if depth > maxQuickDepth {
		s.unsure = true
	}
	s.i++ // {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return
	}
	for !s.bad && !s.unsure {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			s.bad = true
			return
		}
		start := s.i
		s.str()
		name := s.b[start+1 : max(start+1, s.i-1)]
		if bytes.IndexByte(name, '\\') >= 0 || !ascii(name) {
			s.unsure = true // a name that may decode to one picked
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			s.bad = true
			return
		}
		s.i++
		s.space()
		at := s.i
		if c := s.child(in, name); c != inOther && s.i < len(s.b) && s.b[s.i] == '{' {
			s.object(depth+1, c)
		} else {
			s.value(depth)
		}
		if in != inOther && !s.bad {
			s.record(in, name, s.b[at:s.i])
		}
		s.space()
		if s.i >= len(s.b) {
			s.bad = true
			return
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return
		default:
			s.bad = true
			return
		}
	}
}

func (s *scanner) array(depth int) {
	if depth > maxQuickDepth {
		s.unsure = true
	}
	s.i++ // [
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return
	}
	for !s.bad && !s.unsure {
		s.value(depth)
		s.space()
		if s.i >= len(s.b) {
			s.bad = true
			return
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return
		default:
			s.bad = true
			return
		}
	}
}

// strStop marks the bytes a string's scan stops at: its end, an escape,
// and the control characters JSON refuses in a string.
var strStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// str skips a string, checking its escapes.
func (s *scanner) str() {
	b, i := s.b, s.i+1 // after the "
	for i < len(b) {
		if !strStop[b[i]] {
			i++
			continue
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return
		case c < 0x20:
			s.i, s.bad = i, true
			return
		}
		// A backslash.
		if i+1 >= len(b) {
			s.i, s.bad = i, true
			return
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+6 > len(b) || !hex4(b[i+2:i+6]) {
				s.i, s.bad = i, true
				return
			}
			i += 6
		default:
			s.i, s.bad = i, true
			return
		}
	}
	s.i, s.bad = i, true // not closed
}

func hex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// number skips a number as JSON writes them. One with an exponent or
// many digits might not fit a float64, which fails a decode into
// map[string]any: unsure.
func (s *scanner) number() {
	start := s.i
	if s.b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		s.bad = true
		return
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			s.bad = true
			return
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.unsure = true
		return
	}
	if s.i-start > 300 {
		s.unsure = true
	}
}
