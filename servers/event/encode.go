package event

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// TimeLayout is the layout of @timestamp: UTC with milliseconds, which
// Elasticsearch's default date mapping reads.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Source describes the file a stream of lines comes from. Everything in it
// is the same for every line of one file, so an Encoder renders it once.
type Source struct {
	Host    string // host.name
	AgentID string // agent.id
	Path    string // log.file.path
	// FileID identifies the file's content across renames: device, inode
	// and whatever else the reader uses to tell files apart. It only feeds
	// event.id.
	FileID string
}

// Encoder renders the lines of one file as Kafka record values. It is not
// safe for concurrent use; each file's reader owns one.
type Encoder struct {
	idPrefix []byte // "<16 hex digits>-": hash of agent id and file id
	middle   []byte // the constant fields between message and log.offset
}

// NewEncoder prepares the constant parts of every record of src.
func NewEncoder(src Source) *Encoder {
	h := xxhash.New()
	h.WriteString(src.AgentID)
	h.WriteString("\x00")
	h.WriteString(src.FileID)
	var idPrefix []byte
	idPrefix = append(idPrefix, []byte(leftPad16(strconv.FormatUint(h.Sum64(), 16)))...)
	idPrefix = append(idPrefix, '-')

	var m []byte
	m = append(m, `,"host":{"name":`...)
	m = AppendString(m, []byte(src.Host))
	m = append(m, `},"agent":{"id":`...)
	m = AppendString(m, []byte(src.AgentID))
	m = append(m, `},"log":{"file":{"path":`...)
	m = AppendString(m, []byte(src.Path))
	m = append(m, `},"offset":`...)
	return &Encoder{idPrefix: idPrefix, middle: m}
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

// Encode returns a new slice holding the record of one line; line is the
// line without its ending and offset the position of its first byte. A
// line cut at the job's length limit is flagged with log.flags
// ["truncated"], as Filebeat does.
func (e *Encoder) Encode(line []byte, offset int64, read time.Time, truncated bool) []byte {
	b := make([]byte, 0, len(line)+len(e.middle)+len(e.idPrefix)+96)
	b = append(b, `{"@timestamp":"`...)
	b = read.UTC().AppendFormat(b, TimeLayout)
	b = append(b, `","message":`...)
	b = AppendString(b, line)
	b = append(b, e.middle...)
	b = strconv.AppendInt(b, offset, 10)
	if truncated {
		b = append(b, `,"flags":["truncated"]`...)
	}
	b = append(b, `},"event":{"id":"`...)
	b = append(b, e.idPrefix...)
	b = strconv.AppendInt(b, offset, 16)
	b = append(b, `"}}`...)
	return b
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// control characters are escaped; nothing else is changed.
func AppendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
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
