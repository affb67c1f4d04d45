package event

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// TimeLayout is the layout of @timestamp: UTC with milliseconds, which
// Elasticsearch's default date mapping reads.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// ECSVersion is the version of the Elastic Common Schema brun's events
// follow (ecs.version).
const ECSVersion = "8.11.0"

// AgentType is agent.type of every event brun ships.
const AgentType = "brun"

// InputType is input.type: events read from files, line by line.
const InputType = "log"

// Source describes the file a stream of lines comes from. Everything in it
// is the same for every line of one file, so an Encoder renders it once.
// Empty optional fields are left out of the event.
//
// The event carries what only the agent knows. The ECS members that are
// the same for every event or follow from others (ecs.version,
// input.type, host.hostname and agent.name, both host.name, and
// event.dataset, the topic) are added by the transfer to every record
// whose agent.type is "brun", so that Kafka does not carry them for
// every line.
type Source struct {
	Host    string   // host.name
	IPs     []string // host.ip (optional)
	AgentID string   // agent.id
	// AgentVersion is agent.version, the build's (optional).
	AgentVersion string
	// Timezone is event.timezone: the zone a time written in a line
	// without one is read in (an IANA name or an offset such as
	// "+08:00"; optional).
	Timezone string
	// Job is the name of the job reading the file. It only feeds event.id:
	// two jobs reading one file each ship every line, under ids of their own.
	Job  string
	Path string // log.file.path
	// FileID identifies the file's content across renames: device, inode
	// and whatever else the reader uses to tell files apart. It only feeds
	// event.id.
	FileID string
	// Fields are the job's static fields, added to each event as "fields".
	Fields map[string]any
	// JSON makes each line that is a JSON object appear parsed under "json".
	JSON bool
}

// Flags mark how an event was cut from its file (ECS log.flags).
type Flags uint8

const (
	// Truncated: the line was longer than the job's limit and was cut.
	Truncated Flags = 1 << iota
	// Multiline: the event joins several lines.
	Multiline
)

// Encoder renders the lines of one file as Kafka record values. It is not
// safe for concurrent use; each file's reader owns one.
type Encoder struct {
	idPrefix []byte // "<16 hex digits>-": hash of agent id and file id
	middle   []byte // the constant fields between message and log.offset
	// eventTail closes event.id's string and adds the event's other
	// constant members: `","timezone":"Asia/Shanghai"}`.
	eventTail []byte
	fields    []byte // `,"fields":{...}` or nothing
	json      bool

	// The last @timestamp rendered: lines read in the same millisecond
	// share it, which saves formatting a time per line.
	lastMilli int64
	lastTime  []byte
}

// NewEncoder prepares the constant parts of every record of src.
func NewEncoder(src Source) *Encoder {
	h := xxhash.New()
	h.WriteString(src.AgentID)
	h.WriteString("\x00")
	h.WriteString(src.Job)
	h.WriteString("\x00")
	h.WriteString(src.FileID)
	var idPrefix []byte
	idPrefix = append(idPrefix, []byte(leftPad16(strconv.FormatUint(h.Sum64(), 16)))...)
	idPrefix = append(idPrefix, '-')

	var m []byte
	m = append(m, `,"host":{"name":`...)
	m = AppendString(m, []byte(src.Host))
	if len(src.IPs) > 0 {
		m = append(m, `,"ip":[`...)
		for i, ip := range src.IPs {
			if i > 0 {
				m = append(m, ',')
			}
			m = AppendString(m, []byte(ip))
		}
		m = append(m, ']')
	}
	m = append(m, `},"agent":{"id":`...)
	m = AppendString(m, []byte(src.AgentID))
	m = append(m, `,"type":"`+AgentType+`"`...)
	m = appendMember(m, "version", src.AgentVersion)
	m = append(m, `},"log":{"file":{"path":`...)
	m = AppendString(m, []byte(src.Path))
	m = append(m, `},"offset":`...)
	t := []byte{'"'}
	t = appendMember(t, "timezone", src.Timezone)
	t = append(t, '}')
	e := &Encoder{idPrefix: idPrefix, middle: m, eventTail: t, json: src.JSON}
	if len(src.Fields) > 0 {
		// Values were decoded from a job's JSON, so they encode again.
		f, _ := json.Marshal(src.Fields)
		e.fields = append([]byte(`,"fields":`), f...)
	}
	return e
}

// appendMember appends `,"name":"value"` unless value is empty.
func appendMember(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return AppendString(b, []byte(value))
}

func leftPad16(s string) string {
	for len(s) < 16 {
		s = "0" + s
	}
	return s
}

// StreamKey returns the hash of the agent and file identity: the same for
// every line of one file, different between files. The agent uses it as the
// Kafka record key, so one file's lines stay in one partition, in order.
func (e *Encoder) StreamKey() []byte { return e.idPrefix[:16] }

// ID returns the event.id of the line starting at offset: the same line of
// the same file always gets the same id, so a replay overwrites the document
// instead of adding one.
func (e *Encoder) ID(offset int64) string {
	return string(strconv.AppendInt(append([]byte(nil), e.idPrefix...), offset, 16))
}

// Encode returns a new slice holding the record of one event; line is its
// text without the line ending and offset the position of its first byte.
// flags become log.flags ("truncated", "multiline"), as in Filebeat.
func (e *Encoder) Encode(line []byte, offset int64, read time.Time, flags Flags) []byte {
	return e.encode(line, offset, read, flags, nil)
}

// Pinned is what a job's pins read from a line (job.Timestamp, job.Level,
// job.Message); a zero member pins nothing.
type Pinned struct {
	// Time is @timestamp; the read time then goes to event.created, which
	// tells the transfer the time is chosen and not to be looked for.
	Time time.Time
	// Level is log.level.
	Level string
	// Message is the message, when a member of a JSON line holds it; the
	// line itself then goes to event.original.
	Message []byte
}

// EncodePinned is Encode for a line whose time, level or message its job
// pins.
func (e *Encoder) EncodePinned(line []byte, offset int64, read time.Time, flags Flags, p Pinned) []byte {
	return e.encode(line, offset, read, flags, &p)
}

func (e *Encoder) encode(line []byte, offset int64, read time.Time, flags Flags, p *Pinned) []byte {
	n := len(line) + len(e.middle) + len(e.idPrefix) + len(e.eventTail) + len(e.fields) + 96
	if p != nil {
		n += len(line) + len(p.Message) + len(p.Level) + 96
	}
	b := make([]byte, 0, n)
	b = append(b, `{"@timestamp":"`...)
	if p != nil && !p.Time.IsZero() {
		b = p.Time.UTC().AppendFormat(b, TimeLayout)
	} else {
		b = append(b, e.readTime(read)...)
	}
	b = append(b, `","message":`...)
	if p != nil && p.Message != nil {
		b = AppendString(b, p.Message)
	} else {
		b = AppendString(b, line)
	}
	b = append(b, e.middle...)
	b = strconv.AppendInt(b, offset, 10)
	switch flags {
	case 0:
	case Truncated:
		b = append(b, `,"flags":["truncated"]`...)
	case Multiline:
		b = append(b, `,"flags":["multiline"]`...)
	default:
		b = append(b, `,"flags":["multiline","truncated"]`...)
	}
	if p != nil && p.Level != "" {
		b = append(b, `,"level":`...)
		b = AppendString(b, []byte(p.Level))
	}
	b = append(b, `},"event":{"id":"`...)
	b = append(b, e.idPrefix...)
	b = strconv.AppendInt(b, offset, 16)
	if p != nil && (!p.Time.IsZero() || p.Message != nil) {
		b = append(b, '"')
		if !p.Time.IsZero() {
			b = append(b, `,"created":"`...)
			b = append(b, e.readTime(read)...)
			b = append(b, '"')
		}
		if p.Message != nil {
			b = append(b, `,"original":`...)
			b = AppendString(b, line)
		}
		b = append(b, e.eventTail[1:]...) // the id's closing quote is written
	} else {
		b = append(b, e.eventTail...)
	}
	b = append(b, e.fields...)
	if e.json {
		b = appendJSON(b, line)
	}
	return append(b, '}')
}

// readTime returns read formatted as @timestamp: lines read in the same
// millisecond share the text.
func (e *Encoder) readTime(read time.Time) []byte {
	if ms := read.UnixMilli(); ms != e.lastMilli || e.lastTime == nil {
		e.lastMilli = ms
		e.lastTime = read.UTC().AppendFormat(e.lastTime[:0], TimeLayout)
	}
	return e.lastTime
}

// appendJSON adds the line as the event's "json" object when it is one,
// and an error.message saying why not otherwise; the line itself is always
// in message.
func appendJSON(b, line []byte) []byte {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i < len(line) && line[i] == '{' && utf8.Valid(line) && json.Valid(line) {
		b = append(b, `,"json":`...)
		return append(b, line...)
	}
	return append(b, `,"error":{"message":"json: the line is not a JSON object"}`...)
}

const hexDigits = "0123456789abcdef"

// plain marks the bytes AppendString copies as they are: printable ASCII
// but '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// control characters are escaped; nothing else is changed.
func AppendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				for i < len(s) && plain[s[i]] {
					i++
				}
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
