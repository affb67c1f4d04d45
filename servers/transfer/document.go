package transfer

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"brun/base/metrics"
	"brun/servers/enrich"
	"brun/servers/event"
	"brun/servers/indexname"
)

// document is one record on its way to Elasticsearch: a Kafka record, or
// an event handed over in process. It carries its own completion, built
// by the source that made it: done is called once Elasticsearch (or the
// local files) stored it or its dead-letter copy, and only that lets the
// source move on (commit the Kafka offset, ack the hand-off).
type document struct {
	// raw is the record as Kafka holds it.
	raw       []byte
	offset    int64
	kafkaTime time.Time // the record's Kafka timestamp
	seen      time.Time // when the transfer consumed it
	// entry is the document's two _bulk lines: the index action (with
	// _index and _id) and the source, each ending in '\n'. The writer
	// that takes the document renders it (builder.build), so the channel
	// holds only the records.
	entry []byte
	// idAt and src are where, in entry, the _id value (a JSON string) and
	// the source line start; indexName is the _index.
	idAt, src int
	indexName string
	// deadLetter marks the dead-letter copy of a refused document.
	deadLetter bool

	part *partition // names the document and counts it
	// done completes the document; call it exactly once. The Kafka claim
	// makes it finish the record's place in the partition's window; the
	// hand-off makes it ack the event to the agent.
	done func()
}

// id returns the document's _id, read back from its action line (for logs
// and dead letters only: it is not on the hot path).
func (d *document) id() string {
	var a struct {
		Index struct {
			ID string `json:"_id"`
		} `json:"index"`
	}
	json.Unmarshal(d.entry[:actionEnd(d.entry)], &a)
	return a.Index.ID
}

// index returns the document's _index, read back from its action line.
func (d *document) index() string {
	var a struct {
		Index struct {
			Index string `json:"_index"`
		} `json:"index"`
	}
	json.Unmarshal(d.entry[:actionEnd(d.entry)], &a)
	return a.Index.Index
}

func actionEnd(entry []byte) int {
	for i, c := range entry {
		if c == '\n' {
			return i
		}
	}
	return len(entry)
}

// partition is where documents come from: one Kafka partition, or one
// topic's events handed over in process (id -1). It names its documents
// (topic, partition, index pattern) and holds their metric children; what
// completes them is each document's own done.
type partition struct {
	topic   string
	id      int32
	pattern *indexname.Pattern

	indexed, retried, deadLettered prometheus.Counter
}

func newPartition(topic string, id int32, pattern *indexname.Pattern) *partition {
	return &partition{
		topic: topic, id: id, pattern: pattern,
		indexed:      metrics.DocsIndexed.WithLabelValues(topic),
		retried:      metrics.DocsRetried.WithLabelValues(topic),
		deadLettered: metrics.DocsDeadLettered.WithLabelValues(topic),
	}
}

// edit replaces rec[at:to] with scratch[from:upto] when building a body.
type edit struct{ at, to, from, upto int }

// builder renders documents into their _bulk lines. Each writer owns
// one: it caches index names per topic and reuses a scratch buffer.
type builder struct {
	names   map[*partition]*indexNames
	scratch []byte // text inserted into a record, reused per document
	// zones caches the locations of the event.timezone values seen.
	zones map[string]*time.Location
	// arena is where entries are rendered, one after another: a document
	// costs no allocation of its own, and a chunk is collected once
	// every document rendered into it is.
	arena []byte
}

// arenaChunk is the size of a fresh arena.
const arenaChunk = 1 << 20

// build renders d.entry from d.raw.
//
// A JSON object is kept byte for byte, with at most these changes: when
// its message (a plain line: no "json" field) starts with a time,
// @timestamp becomes that time and the read time moves to event.created
// (a record that has event.created keeps its @timestamp: its time was
// chosen where it was read, as a job's timestamp pin does); a level found in the line is added as log.level (unless there is one);
// a missing @timestamp is added. No member name is added twice
// (Elasticsearch refuses repeated names): a log or event member that is
// not an object gets no log.level or event.created, and an @timestamp
// that is not a string is kept, or replaced by the line's time. Newlines
// between the record's tokens become spaces, so the source is one line
// (oneLine). Any other record becomes {"@timestamp", "message"} with the
// same enrichment. The _id is event.id, or topic-partition-offset for
// records without one that Elasticsearch takes as it is (plainID). The
// Kafka timestamp, or else the time it was consumed, stands in when the
// record has no time of its own.
func (bd *builder) build(d *document) {
	p, value, offset, kafkaTime, now := d.part, d.raw, d.offset, d.kafkaTime, d.seen
	r, isObject := parseRecord(value)
	read := time.Time{}
	if isObject && r.ts.ok() && value[r.ts.s] == '"' {
		if t, n, ok := enrich.ISO(value[r.ts.s+1 : r.ts.e-1]); ok && n == r.ts.e-r.ts.s-2 {
			read = t
		}
	}
	if read.IsZero() {
		read = kafkaTime
	}
	if read.IsZero() || read.Year() < 1971 {
		read = now
	}

	var line []byte
	switch {
	case !isObject:
		line = value
	case !r.hasJSON && r.msg.ok():
		line = value[r.msg.s+1 : r.msg.e-1]
	}
	ts, replaced, level := read, false, ""
	// A record with event.created has its time chosen already (a job
	// pinned it, or another shipper read it): its @timestamp stays.
	chosen := isObject && r.hasCreated
	var loc *time.Location
	if isObject && r.tz.ok() {
		loc = bd.zone(value[r.tz.s+1 : r.tz.e-1])
	}
	// A line the job parsed as JSON: its own time, level and message
	// members stand for the event's; the line moves to event.original.
	jmsg := none
	if isObject && r.json.ok() {
		jl := readJSONLine(value, r.json, read, loc)
		if !jl.ts.IsZero() && !chosen {
			ts, replaced = jl.ts, true
		}
		if !r.hasLevel && !r.logOther {
			level = jl.level
		}
		if jl.msg.ok() && r.msg.ok() && !r.hasOriginal && !r.eventOther {
			jmsg = jl.msg
		}
	}
	if line != nil {
		t, end, found := enrich.Time(line, read, loc)
		if found && t.Year() >= 1971 {
			if !chosen {
				ts, replaced = t, true
			}
		} else {
			end = 0
		}
		if !r.hasLevel && !r.logOther {
			level = enrich.Level(line, end)
		}
	}

	names := bd.names[p]
	if names == nil {
		if bd.names == nil || len(bd.names) > 4096 {
			bd.names = map[*partition]*indexNames{} // partitions come and go with rebalances
		}
		names = &indexNames{pattern: p.pattern, topic: p.topic}
		bd.names[p] = names
	}
	index := names.name(ts)
	need := len(value) + len(index) + len(p.topic) + 320 // the edits add fewer
	if jmsg.ok() {
		need += r.msg.e - r.msg.s // event.original
	}
	if cap(bd.arena)-len(bd.arena) < need {
		bd.arena = make([]byte, 0, max(arenaChunk, need))
	}
	start := len(bd.arena)
	e := bd.arena[start:start]
	e = append(e, `{"index":{"_index":"`...)
	e = append(e, index...)
	e = append(e, `","_id":`...)
	d.idAt, d.indexName = len(e), index
	if isObject && r.id.ok() && plainID(value[r.id.s:r.id.e]) {
		e = append(e, value[r.id.s:r.id.e]...)
	} else {
		e = append(e, '"')
		e = append(e, p.topic...)
		e = append(e, '-')
		e = appendInt(e, int64(p.id))
		e = append(e, '-')
		e = appendInt(e, offset)
		e = append(e, '"')
	}
	e = append(e, "}}\n"...)
	d.src = len(e)
	if isObject {
		e = bd.appendEdited(e, &r, ts, read, replaced, level, jmsg, p.topic)
		oneLine(e[d.src:])
	} else {
		e = append(e, `{"@timestamp":"`...)
		e = appendTime(e, ts)
		e = append(e, `","message":`...)
		e = event.AppendString(e, value)
		if replaced {
			e = append(e, `,"event":{"created":"`...)
			e = appendTime(e, read)
			e = append(e, `"}`...)
		}
		if level != "" {
			e = append(e, `,"log":{"level":"`...)
			e = append(e, level...)
			e = append(e, `"}`...)
		}
		e = append(e, '}')
	}
	e = append(e, '\n')
	if len(e) <= cap(bd.arena)-start {
		bd.arena = bd.arena[:start+len(e)] // e is in the arena
	}
	d.entry = e[:len(e):len(e)]
}

// zone returns the location event.timezone names (enrich.Zone); nil
// (UTC) for anything else. Each value is looked up once per writer.
func (bd *builder) zone(name []byte) *time.Location {
	if loc, ok := bd.zones[string(name)]; ok {
		return loc
	}
	loc := enrich.Zone(name)
	if bd.zones == nil || len(bd.zones) >= 256 {
		bd.zones = map[string]*time.Location{} // hostile values can't grow it without end
	}
	bd.zones[string(name)] = loc
	return loc
}

// appendEdited appends the record r with its enrichment to dst. The text
// inserted is first written to the partition's scratch buffer, so that
// the record is then copied once, in order, around the edits.
//
// With jmsg (the message member of a parsed JSON line) the message becomes
// that string, and the line it was moves to event.original.
//
// A record of brun's agent (agent.type "brun") gets the ECS members that
// are the same for every event, or follow from others, which the agent
// leaves out of Kafka: ecs.version, input.type, host.hostname and
// agent.name (both host.name, as Filebeat has them) and event.dataset
// (the topic).
func (bd *builder) appendEdited(dst []byte, r *record, ts, read time.Time, replaced bool, level string, jmsg span, topic string) []byte {
	b := r.b
	s := bd.scratch[:0]
	var edits [10]edit
	n := 0
	// begin and end bracket the text of one edit replacing b[at:to].
	begin := func() int { return len(s) }
	end := func(at, to, from int) {
		edits[n] = edit{at, to, from, len(s)}
		n++
	}
	// comma follows a member inserted first into the object opening at
	// b[open], unless that object is empty.
	comma := func(open int) {
		if b[skipWS(b, open+1)] != '}' {
			s = append(s, ',')
		}
	}
	switch {
	case !r.ts.ok():
		f := begin()
		s = append(s, `"@timestamp":"`...)
		s = appendTime(s, ts)
		s = append(s, '"')
		comma(r.open)
		end(r.open+1, r.open+1, f)
	case replaced:
		f := begin()
		s = append(s, '"')
		s = appendTime(s, ts)
		s = append(s, '"')
		end(r.ts.s, r.ts.e, f)
	}
	if level != "" {
		f := begin()
		if r.log.ok() {
			s = append(s, `"level":"`...)
			s = append(s, level...)
			s = append(s, '"')
			comma(r.log.s)
			end(r.log.s+1, r.log.s+1, f)
		} else {
			s = append(s, `,"log":{"level":"`...)
			s = append(s, level...)
			s = append(s, `"}`...)
			end(r.end, r.end, f)
		}
	}
	if jmsg.ok() {
		f := begin()
		s = append(s, b[jmsg.s:jmsg.e]...)
		end(r.msg.s, r.msg.e, f)
	}
	if r.brunAgent {
		if r.hostName.ok() && r.host.ok() && !r.hasHostname {
			f := begin()
			s = append(s, `"hostname":`...)
			s = append(s, b[r.hostName.s:r.hostName.e]...)
			comma(r.host.s)
			end(r.host.s+1, r.host.s+1, f)
		}
		if r.hostName.ok() && r.agent.ok() && !r.hasAgentName {
			f := begin()
			s = append(s, `"name":`...)
			s = append(s, b[r.hostName.s:r.hostName.e]...)
			comma(r.agent.s)
			end(r.agent.s+1, r.agent.s+1, f)
		}
		if !r.hasECS || !r.hasInput {
			f := begin()
			if !r.hasECS {
				s = append(s, `,"ecs":{"version":"`+event.ECSVersion+`"}`...)
			}
			if !r.hasInput {
				s = append(s, `,"input":{"type":"`+event.InputType+`"}`...)
			}
			end(r.end, r.end, f)
		}
	}
	// The event members to add: event.created when the time was replaced,
	// event.original when the message was, event.dataset for brun's
	// agent's records; one edit, so that members added to an empty or
	// missing event object are joined right.
	created := replaced && !r.hasCreated && !r.eventOther
	dataset := r.brunAgent && !r.hasDataset && !r.eventOther
	if created || jmsg.ok() || dataset {
		f := begin()
		if !r.event.ok() {
			s = append(s, `,"event":{`...)
		}
		sep := false
		if created {
			s = append(s, `"created":"`...)
			s = appendTime(s, read)
			s = append(s, '"')
			sep = true
		}
		if jmsg.ok() {
			if sep {
				s = append(s, ',')
			}
			s = append(s, `"original":`...)
			s = append(s, b[r.msg.s:r.msg.e]...)
			sep = true
		}
		if dataset {
			if sep {
				s = append(s, ',')
			}
			s = append(s, `"dataset":`...)
			s = event.AppendString(s, []byte(topic))
		}
		if r.event.ok() {
			comma(r.event.s)
			end(r.event.s+1, r.event.s+1, f)
		} else {
			s = append(s, '}')
			end(r.end, r.end, f)
		}
	}
	bd.scratch = s
	// Stable insertion sort: edits at one place keep the order added.
	for i := 1; i < n; i++ {
		for j := i; j > 0 && edits[j].at < edits[j-1].at; j-- {
			edits[j], edits[j-1] = edits[j-1], edits[j]
		}
	}
	last := 0
	for _, ed := range edits[:n] {
		dst = append(dst, b[last:ed.at]...)
		dst = append(dst, s[ed.from:ed.upto]...)
		last = ed.to
	}
	return append(dst, b[last:]...)
}

// maxIDBytes is the longest _id Elasticsearch takes.
const maxIDBytes = 512

// plainID reports whether the JSON string s (quotes included) can be a
// document's _id as it is written: 1 to maxIDBytes bytes of UTF-8 with no
// escape and no control character, as every event.id the agent makes is.
// Elasticsearch refuses a longer _id, and a malformed one breaks the
// action line and with it the whole request; the dead-letter copy keeps
// the _id, so it would be refused too and retried forever, holding up
// its partition. Such a record (only another producer writes one) is
// named by topic-partition-offset instead.
func plainID(s []byte) bool {
	v := s[1 : len(s)-1]
	if len(v) == 0 || len(v) > maxIDBytes {
		return false
	}
	for _, c := range v {
		if c < 0x20 || c == '\\' || c == '"' {
			return false
		}
	}
	return utf8.Valid(v)
}

// oneLine turns each '\n' of a source line into a space. The _bulk body
// is one JSON document a line, and a record kept byte for byte may be
// pretty-printed: a newline between its tokens would end the source line
// early, failing the request or making the rest of the record read as
// the next action. In valid JSON a raw newline can only be such
// whitespace (a string holds it escaped), so the document is unchanged.
func oneLine(src []byte) {
	for i := bytes.IndexByte(src, '\n'); i >= 0; i = bytes.IndexByte(src, '\n') {
		src[i] = ' '
		src = src[i+1:]
	}
}

// maxOriginal bounds the original record kept in a dead letter, so that a
// record refused for its size does not make its dead letter too large too.
const maxOriginal = 1 << 20

// toDeadLetter returns the dead-letter copy of d: the original record as
// a string (event.original, at most maxOriginal bytes; brun.original_bytes
// has its full size), why it was refused (error.type, error.message),
// where it came from (kafka.topic, kafka.partition, kafka.offset,
// brun.index). It keeps d's _id and completion, so storing it completes
// the original.
func (d *document) toDeadLetter(errType, reason string, now time.Time) *document {
	orig := d.raw[:min(len(d.raw), maxOriginal)]
	b := make([]byte, 0, len(orig)+len(reason)+320)
	dlIndex := deadLetterIndex(now)
	b = append(b, `{"index":{"_index":"`...)
	b = append(b, dlIndex...)
	b = append(b, `","_id":`...)
	idAt := len(b)
	b = event.AppendString(b, []byte(d.id()))
	b = append(b, "}}\n"...)
	src := len(b)
	b = append(b, `{"@timestamp":"`...)
	b = appendTime(b, now)
	b = append(b, `","message":`...)
	b = event.AppendString(b, []byte(errType+": "+reason))
	b = append(b, `,"event":{"original":`...)
	b = event.AppendString(b, orig)
	b = append(b, `},"error":{"type":`...)
	b = event.AppendString(b, []byte(errType))
	b = append(b, `,"message":`...)
	b = event.AppendString(b, []byte(reason))
	b = append(b, `},"kafka":{"topic":`...)
	b = event.AppendString(b, []byte(d.part.topic))
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(d.part.id), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, d.offset, 10)
	b = append(b, `},"brun":{"index":`...)
	b = event.AppendString(b, []byte(d.index()))
	b = append(b, `,"original_bytes":`...)
	b = strconv.AppendInt(b, int64(len(d.raw)), 10)
	b = append(b, "}}\n"...)
	dl := *d
	dl.entry, dl.idAt, dl.src, dl.indexName = b, idAt, src, dlIndex
	dl.deadLetter = true
	return &dl
}
