package transfer

import (
	"bytes"
	"strconv"
	"time"
)

// span is the [s, e) range of a JSON value inside a record; s < 0 when the
// value is absent.
type span struct{ s, e int }

var none = span{-1, -1}

func (p span) ok() bool { return p.s >= 0 }

// record is what the transfer needs to know about a Kafka record that is a
// JSON object, found in one pass without decoding it: where the top-level
// @timestamp, message, log and event values are, the event.id, and
// whether the record already has a level, a creation time or parsed JSON
// fields (a "json" object, which is kept as it is).
type record struct {
	b          []byte
	open, end  int  // index of the opening '{' and of the closing '}'
	ts         span // the @timestamp value, of any kind (a string's quotes included)
	msg        span // the message value, quotes included
	log, event span // the log and event objects
	id         span // event.id, quotes included
	tz         span // event.timezone, quotes included
	json       span // the "json" object: the line a job parsed as JSON
	hasJSON    bool // a top-level "json" field
	// hasOriginal: event.original, nested or dotted, is there already.
	hasOriginal bool
	// What brun's agent leaves to the transfer (ecsMembers): the host and
	// agent objects, host.name, and which of the members it would add are
	// there already. brunAgent: agent.type is "brun".
	host, agent                                 span
	hostName                                    span // a string, quotes included
	brunAgent                                   bool
	hasHostname, hasAgentName, hasECS, hasInput bool
	hasDataset                                  bool
	hasLevel                                    bool // log.level, nested or dotted
	hasCreated                                  bool // event.created, nested or dotted
	// logOther and eventOther mark a log or event member that is not an
	// object: log.level or event.created can't be added to it, and adding
	// a second member of the same name would make Elasticsearch refuse
	// the document (it rejects repeated names).
	logOther, eventOther bool
}

// parseRecord scans b; ok is false when b is not one JSON object, as for
// records brun did not produce. It checks structure (strings, nesting),
// not every literal: Elasticsearch refuses what slips through, and the
// record goes to the dead-letter index.
func parseRecord(b []byte) (r record, ok bool) {
	r = record{b: b, ts: none, msg: none, log: none, event: none, id: none, tz: none, json: none,
		host: none, agent: none, hostName: none}
	r.open = skipWS(b, 0)
	if r.open >= len(b) || b[r.open] != '{' {
		return r, false
	}
	var path [64]byte // "event.id": an object's name, '.', a member's key
	end, ok := eachKey(b, r.open, func(k []byte, v span) {
		r.member(k, v)
		switch string(k) {
		case "log", "event", "host", "agent":
			if b[v.s] != '{' {
				return
			}
			n := copy(path[:], k)
			path[n] = '.'
			eachKey(b, v.s, func(k []byte, v span) {
				if m := n + 1 + len(k); m <= len(path) {
					copy(path[n+1:], k)
					r.member(path[:m], v)
				}
			})
		}
	})
	if !ok || skipWS(b, end+1) != len(b) {
		return r, false
	}
	r.end = end
	return r, true
}

// member notes one member of the record: a top-level one by its name, or
// one of the log, event, host or agent objects by its dotted path, which
// is also how a record may write it at the top ("event.id"), so both
// spellings count alike.
func (r *record) member(name []byte, v span) {
	b := r.b
	isString, isObject := b[v.s] == '"', b[v.s] == '{'
	switch string(name) {
	case "@timestamp":
		// Kept whatever its kind (another producer may write epoch
		// milliseconds): it is replaced, never added a second time.
		r.ts = v
	case "message":
		if isString {
			r.msg = v
		}
	case "json":
		r.hasJSON = true
		if isObject {
			r.json = v
		}
	case "log":
		r.logOther = !isObject
		if isObject {
			r.log = v
		}
	case "event":
		r.eventOther = !isObject
		if isObject {
			r.event = v
		}
	case "host":
		if isObject {
			r.host = v
		}
	case "agent":
		if isObject {
			r.agent = v
		}
	case "ecs", "ecs.version":
		r.hasECS = true
	case "input", "input.type":
		r.hasInput = true
	case "log.level":
		r.hasLevel = true
	case "event.id":
		if isString {
			r.id = v
		}
	case "event.timezone":
		if isString {
			r.tz = v
		}
	case "event.created":
		r.hasCreated = true
	case "event.original":
		r.hasOriginal = true
	case "event.dataset":
		r.hasDataset = true
	case "host.name":
		if isString && r.host.ok() && v.s > r.host.s && v.e < r.host.e {
			r.hostName = v // only host.name inside the host object is copied
		}
	case "host.hostname":
		r.hasHostname = true
	case "agent.type":
		if r.agent.ok() && v.s > r.agent.s && v.e < r.agent.e {
			r.brunAgent = string(b[v.s:v.e]) == `"brun"` // only the agent object's
		}
	case "agent.name":
		r.hasAgentName = true
	}
}

// eachKey calls fn for every key of the object opening at b[open] with the
// span of its value, and returns the index of the closing '}'.
func eachKey(b []byte, open int, fn func(key []byte, val span)) (int, bool) {
	i := skipWS(b, open+1)
	if i < len(b) && b[i] == '}' {
		return i, true
	}
	for i < len(b) {
		if b[i] != '"' {
			return 0, false
		}
		ke := skipString(b, i)
		if ke < 0 {
			return 0, false
		}
		key := b[i+1 : ke-1]
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		vs := skipWS(b, i+1)
		ve := skipValue(b, vs)
		if ve < 0 {
			return 0, false
		}
		fn(key, span{vs, ve})
		i = skipWS(b, ve)
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case '}':
			return i, true
		case ',':
			i = skipWS(b, i+1)
		default:
			return 0, false
		}
	}
	return 0, false
}

// skipValue returns the index just past the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isWS(b[j]) {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// skipString returns the index just past the string opening at b[i], or -1.
// It jumps from quote to quote (IndexByte is vectorized) and counts the
// backslashes before each: an even number means the quote ends the string.
func skipString(b []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// appendTime appends t in UTC as event.TimeLayout does
// ("2006-01-02T15:04:05.000Z"), without time.Format's cost.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	ms := t.Nanosecond() / 1e6
	if y < 0 || y > 9999 {
		return t.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	}
	dst = append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	dst = append2(dst, int(mo), '-')
	dst = append2(dst, d, 'T')
	dst = append2(dst, h, ':')
	dst = append2(dst, mi, ':')
	dst = append2(dst, s, '.')
	return append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

func append2(dst []byte, v int, sep byte) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10), sep)
}

// appendInt is strconv.AppendInt for the partition and offset.
func appendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }
