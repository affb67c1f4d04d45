package transfer

import (
	"math"
	"strconv"
	"time"

	"brun/servers/enrich"
)

// The members of a JSON log line (a job with "json": true) that stand for
// the event's time, level and message, in order of preference: the names
// common loggers write (logrus, zap, zerolog, slog, pino, bunyan, Python's
// json formatters).
var (
	jsonTimeKeys    = []string{"@timestamp", "timestamp", "time", "ts", "t"}
	jsonLevelKeys   = []string{"level", "lvl", "severity", "log.level"}
	jsonMessageKeys = []string{"message", "msg"}
)

// jsonLine is where, in a record, the parsed line's time, level and
// message are: the first member of each kind that is usable.
type jsonLine struct {
	ts    time.Time
	level string
	msg   span // a JSON string, quotes included
}

// readJSONLine looks at the top-level members of the record's "json"
// object, read at read in zone loc (nil: UTC).
func readJSONLine(b []byte, obj span, read time.Time, loc *time.Location) jsonLine {
	members := map[string]span{}
	eachKey(b, obj.s, func(k []byte, v span) {
		for _, names := range [][]string{jsonTimeKeys, jsonLevelKeys, jsonMessageKeys} {
			for _, n := range names {
				if string(k) == n {
					if _, seen := members[n]; !seen {
						members[n] = v
					}
				}
			}
		}
	})
	out := jsonLine{msg: none}
	for _, n := range jsonTimeKeys {
		if v, ok := members[n]; ok {
			if t, ok := jsonTime(b[v.s:v.e], read, loc); ok {
				out.ts = t
				break
			}
		}
	}
	for _, n := range jsonLevelKeys {
		if v, ok := members[n]; ok && b[v.s] == '"' {
			if lv := enrich.Level(b[v.s+1:v.e-1], 0); lv != "" {
				out.level = lv
				break
			}
		} else if ok && (b[v.s] >= '0' && b[v.s] <= '9') {
			// A number: a syslog severity, or pino's and bunyan's 10 to 60.
			if lv := enrich.LevelValue(b[v.s:v.e]); lv != "" && !isDigits(lv) {
				out.level = lv
				break
			}
		}
	}
	for _, n := range jsonMessageKeys {
		if v, ok := members[n]; ok && b[v.s] == '"' {
			out.msg = v
			break
		}
	}
	return out
}

// jsonTime reads a time member: a string in one of the formats plain lines
// are read in, taken whole, or a number of seconds or milliseconds since
// 1970 (zap, pino, bunyan) within 20 years of the read time.
func jsonTime(v []byte, read time.Time, loc *time.Location) (time.Time, bool) {
	if v[0] == '"' {
		t, ok := enrich.Value(v[1:len(v)-1], read, loc)
		if !ok || t.Year() < 1971 {
			return time.Time{}, false
		}
		return t, true
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
		return time.Time{}, false
	}
	const window = 20 * 365 * 24 * time.Hour
	for _, unit := range []float64{1, 1e3} { // seconds, then milliseconds
		sec := f / unit
		if sec > math.MaxInt64/1e9 {
			continue
		}
		t := time.Unix(0, int64(sec*1e9)).UTC()
		if d := t.Sub(read); d > -window && d < window {
			return t.Round(time.Millisecond), true
		}
	}
	return time.Time{}, false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
