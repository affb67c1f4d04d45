package enrich

import "time"

// scanLimit is how far into a line a time is looked for: past a host
// name, a file name, a thread or sequence number, a PID.
const scanLimit = 256

// Time returns the time written in the first 256 bytes of line and the
// index where it ends, so that the level can be looked for after it. It
// tries each token start (a digit or a capital letter after a byte that is
// neither) from left to right and takes the first that reads fully as a
// known format; a time inside a file name or a URL (after '/', '.', '_',
// '-' or '=', or followed by '/', '_' or ".log") is taken only when no
// other follows. read is the time the line was read: it gives the year of
// a format that writes none (the one that puts the time nearest before
// it) and bounds epoch seconds. A time written without a zone is a time in
// loc (the zone of the host that wrote it, event.timezone); nil means UTC.
// ok is false when no known format is found; then the caller keeps the
// read time.
func Time(line []byte, read time.Time, loc *time.Location) (t time.Time, end int, ok bool) {
	if loc == nil {
		loc = time.UTC
	}
	lim := min(len(line), scanLimit)
	var weak time.Time
	weakEnd := 0
	for i := 0; i < lim; i++ {
		c := line[i]
		if !isDigit(c) && !isUpper(c) {
			continue
		}
		if i > 0 && isAlnum(line[i-1]) {
			continue
		}
		t, n, ok := timeAt(line, i, read, loc)
		if !ok {
			continue
		}
		if !insideName(line, i, n) {
			return t, n, true
		}
		if weakEnd == 0 {
			weak, weakEnd = t, n
		}
		i = n - 1
	}
	if weakEnd > 0 {
		return weak, weakEnd, true
	}
	return time.Time{}, 0, false
}

// Value reads s as one time and nothing else, in any format Time knows
// (a time without a zone in loc; nil: UTC): the value of a JSON log
// line's time member.
func Value(s []byte, read time.Time, loc *time.Location) (time.Time, bool) {
	if loc == nil {
		loc = time.UTC
	}
	if len(s) == 0 {
		return time.Time{}, false
	}
	t, n, ok := timeAt(s, 0, read, loc)
	return t, ok && n == len(s)
}

// insideName reports whether the time at line[i:n] is part of a file
// name, a URL or a key: a better one may follow.
func insideName(line []byte, i, n int) bool {
	if i > 0 {
		switch line[i-1] {
		case '/', '\\', '.', '_', '-', '=':
			return true
		}
	}
	if n < len(line) {
		switch line[n] {
		case '/', '\\', '_':
			return true
		case '.':
			return n+1 < len(line) && isAlnum(line[n+1])
		}
	}
	return false
}

// timeAt reads a time starting at line[i], returning it and the index
// where it ends.
func timeAt(line []byte, i int, read time.Time, loc *time.Location) (time.Time, int, bool) {
	b := line[i:]
	if len(b) < 11 {
		return time.Time{}, 0, false
	}
	var t time.Time
	var n int
	var ok bool
	if isDigit(b[0]) {
		switch {
		case b[4] == '-':
			t, n, ok = iso(b, loc)
		case b[4] == '/':
			t, n, ok = slashed(b, loc)
		case b[2] == '/' && isUpper(b[3]):
			t, n, ok = clfAt(b)
		case b[2] == '/':
			t, n, ok = shortYear(b, loc)
		case b[2] == '-' || b[2] == '.':
			t, n, ok = monthDay(b, read, loc)
		case b[6] == ' ':
			t, n, ok = compact(b, loc)
		}
		if !ok && i < 24 {
			t, n, ok = epoch(b, read)
		}
	} else {
		switch {
		case i == 0 && (b[0] == 'I' || b[0] == 'W' || b[0] == 'E' || b[0] == 'F') && isDigit(b[1]):
			t, n, ok = klog(b, read, loc)
		case b[3] == ' ' && b[7] == ' ' && i > 0 && line[i-1] == '[':
			t, n, ok = apache(b, loc)
		default:
			t, n, ok = syslog(b, read, loc)
		}
	}
	return t, i + n, ok
}

// nearestYear returns the time with the year that puts it nearest before
// read (a December line read in January is last year's), for formats that
// write none; ok is false when the day does not exist in that year.
func nearestYear(month, day, hour, minute, sec, nsec int, read time.Time, loc *time.Location) (time.Time, bool) {
	read = read.In(loc)
	year := read.Year()
	if time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc).After(read.Add(24 * time.Hour)) {
		year--
	}
	if day > daysIn(month, year) {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), true
}

// clockAt reads "15:04:05" with an optional fraction at b[i:], returning
// the index after it.
func clockAt(b []byte, i int) (h, m, s, nsec, end int, ok bool) {
	if len(b) < i+8 {
		return 0, 0, 0, 0, 0, false
	}
	h, m, s, ok = clock(b[i:])
	if !ok || h > 23 || m > 59 || s > 60 {
		return 0, 0, 0, 0, 0, false
	}
	nsec, end = fraction(b, i+8)
	return h, m, s, nsec, end, true
}

// slashed reads Go's log and nginx's error log "2006/01/02 15:04:05", with
// an optional fraction ("2006/01/02 15:04:05.000000"), in loc.
func slashed(b []byte, loc *time.Location) (time.Time, int, bool) {
	if len(b) < 19 || b[7] != '/' || b[10] != ' ' {
		return time.Time{}, 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	h, m, s, nsec, end, ok := clockAt(b, 11)
	if !(ok && ok1 && ok2 && ok3) || !valid(month, day, h, m, s) || day > daysIn(month, year) {
		return time.Time{}, 0, false
	}
	return time.Date(year, time.Month(month), day, h, m, s, nsec, loc), end, true
}

// shortYear reads Spark's and Hadoop's "17/06/09 20:10:40" (YY/MM/DD), in
// loc; the year is this century's.
func shortYear(b []byte, loc *time.Location) (time.Time, int, bool) {
	if len(b) < 17 || b[5] != '/' || b[8] != ' ' {
		return time.Time{}, 0, false
	}
	yy, ok1 := digits(b[0:2])
	month, ok2 := digits(b[3:5])
	day, ok3 := digits(b[6:8])
	h, m, s, nsec, end, ok := clockAt(b, 9)
	if !(ok && ok1 && ok2 && ok3) || !valid(month, day, h, m, s) || day > daysIn(month, 2000+yy) {
		return time.Time{}, 0, false
	}
	return time.Date(2000+yy, time.Month(month), day, h, m, s, nsec, loc), end, true
}

// compact reads HDFS's "081109 203615" (YYMMDD HHMMSS), in loc.
func compact(b []byte, loc *time.Location) (time.Time, int, bool) {
	if len(b) < 13 || (len(b) > 13 && isAlnum(b[13])) {
		return time.Time{}, 0, false
	}
	yy, ok1 := digits(b[0:2])
	month, ok2 := digits(b[2:4])
	day, ok3 := digits(b[4:6])
	h, ok4 := digits(b[7:9])
	m, ok5 := digits(b[9:11])
	s, ok6 := digits(b[11:13])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || !valid(month, day, h, m, s) || day > daysIn(month, 2000+yy) {
		return time.Time{}, 0, false
	}
	return time.Date(2000+yy, time.Month(month), day, h, m, s, 0, loc), 13, true
}

// monthDay reads Android logcat's "03-17 16:13:38.811" and Proxifier's
// "10.30 16:49:06" (MM-DD or MM.DD, no year), in loc.
func monthDay(b []byte, read time.Time, loc *time.Location) (time.Time, int, bool) {
	if b[5] != ' ' {
		return time.Time{}, 0, false
	}
	month, ok1 := digits(b[0:2])
	day, ok2 := digits(b[3:5])
	h, m, s, nsec, end, ok := clockAt(b, 6)
	if !(ok && ok1 && ok2) || !valid(month, day, h, m, s) {
		return time.Time{}, 0, false
	}
	t, ok := nearestYear(month, day, h, m, s, nsec, read, loc)
	return t, end, ok
}

// klog reads Kubernetes' "I1203 07:31:37.123456" (a level letter, MMDD),
// in loc.
func klog(b []byte, read time.Time, loc *time.Location) (time.Time, int, bool) {
	if b[5] != ' ' {
		return time.Time{}, 0, false
	}
	month, ok1 := digits(b[1:3])
	day, ok2 := digits(b[3:5])
	h, m, s, nsec, end, ok := clockAt(b, 6)
	if !(ok && ok1 && ok2) || !valid(month, day, h, m, s) {
		return time.Time{}, 0, false
	}
	t, ok := nearestYear(month, day, h, m, s, nsec, read, loc)
	return t, end, ok
}

// epochWindow is how far from the read time a number is taken for epoch
// seconds or milliseconds.
const epochWindow = 20 * 365 * 24 * time.Hour

// epoch reads 10 digits of seconds or 13 of milliseconds since 1970, with
// an optional fraction, when that lies within 20 years of read.
func epoch(b []byte, read time.Time) (time.Time, int, bool) {
	n := 0
	for n < len(b) && n < 14 && isDigit(b[n]) {
		n++
	}
	if n != 10 && n != 13 {
		return time.Time{}, 0, false
	}
	v, _ := digits(b[:n])
	nsec, end := fraction(b, n)
	if end < len(b) && isAlnum(b[end]) {
		return time.Time{}, 0, false
	}
	var t time.Time
	if n == 10 {
		t = time.Unix(int64(v), int64(nsec)).UTC()
	} else {
		t = time.Unix(int64(v/1000), int64(v%1000)*1e6+int64(nsec/1000)).UTC()
	}
	if d := t.Sub(read); d < -epochWindow || d > epochWindow {
		return time.Time{}, 0, false
	}
	return t, end, true
}

// clfAt reads the common log format's "10/Oct/2000:13:55:36 -0700".
func clfAt(b []byte) (time.Time, int, bool) {
	if len(b) < 26 || b[6] != '/' || b[11] != ':' || b[20] != ' ' {
		return time.Time{}, 0, false
	}
	day, ok1 := digits(b[0:2])
	month, ok2 := monthOf(b[3:])
	year, ok3 := digits(b[7:11])
	hour, minute, sec, ok4 := clock(b[12:])
	loc, n, ok5 := zone(b[:26], 21)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || loc == nil || !valid(month, day, hour, minute, sec) || day > daysIn(month, year) {
		return time.Time{}, 0, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, loc), n, true
}

// ISO reads "2006-01-02T15:04:05" or "2006-01-02 15:04:05", with an
// optional fraction after '.' or ',' and an optional zone (Z, +07:00,
// +0700). Without a zone the time is UTC. It returns the bytes used.
func ISO(b []byte) (time.Time, int, bool) { return iso(b, time.UTC) }

// iso is ISO reading a time without a zone in loc.
func iso(b []byte, loc *time.Location) (time.Time, int, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || !valid(month, day, hour, minute, sec) || day > daysIn(month, year) {
		return time.Time{}, 0, false
	}
	n := 19
	nsec, n := fraction(b, n)
	written, n, ok := zone(b, n)
	if !ok {
		return time.Time{}, 0, false
	}
	if written != nil {
		loc = written
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), n, true
}

// syslog reads "Jan  2 15:04:05" or "Jan 02 15:04:05", with an optional
// fraction. The year is read's, or the one before when that would put the
// line more than a day after it was read (a December line read in January).
// The day is checked against that year, so "Feb 29" is a leap year's. The
// time is in loc: syslog writes none.
func syslog(b []byte, read time.Time, loc *time.Location) (time.Time, int, bool) {
	month, ok := monthOf(b)
	if !ok || b[3] != ' ' {
		return time.Time{}, 0, false
	}
	i := 4
	if b[i] == ' ' {
		i++
	}
	day, n := leadingInt(b[i:], 2)
	if n == 0 {
		return time.Time{}, 0, false
	}
	i += n
	if len(b) < i+9 || b[i] != ' ' {
		return time.Time{}, 0, false
	}
	hour, minute, sec, ok := clock(b[i+1:])
	if !ok || !valid(month, day, hour, minute, sec) {
		return time.Time{}, 0, false
	}
	nsec, end := fraction(b, i+9)
	t, ok := nearestYear(month, day, hour, minute, sec, nsec, read, loc)
	return t, end, ok
}

// apache reads the error log's "Sun Dec 04 04:47:44 2005]" (the '[' is
// already skipped), with an optional fraction before the year; it has no
// zone, so it is a time in loc.
func apache(b []byte, loc *time.Location) (time.Time, int, bool) {
	if len(b) < 24 || b[3] != ' ' {
		return time.Time{}, 0, false
	}
	month, ok := monthOf(b[4:])
	if !ok || b[7] != ' ' {
		return time.Time{}, 0, false
	}
	i := 8
	if b[i] == ' ' {
		i++
	}
	day, n := leadingInt(b[i:], 2)
	if n == 0 || len(b) < i+n+15 || b[i+n] != ' ' {
		return time.Time{}, 0, false
	}
	i += n + 1
	hour, minute, sec, ok := clock(b[i:])
	if !ok || !valid(month, day, hour, minute, sec) {
		return time.Time{}, 0, false
	}
	nsec, i := fraction(b, i+8)
	if len(b) < i+6 || b[i] != ' ' {
		return time.Time{}, 0, false
	}
	year, ok := digits(b[i+1 : i+5])
	if !ok || b[i+5] != ']' || day > daysIn(month, year) {
		return time.Time{}, 0, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), i + 6, true
}

// clock reads "15:04:05".
func clock(b []byte) (h, m, s int, ok bool) {
	if len(b) < 8 || b[2] != ':' || b[5] != ':' {
		return 0, 0, 0, false
	}
	h, ok1 := digits(b[0:2])
	m, ok2 := digits(b[3:5])
	s, ok3 := digits(b[6:8])
	return h, m, s, ok1 && ok2 && ok3
}

// fraction reads ".123456789" or ",123" at b[i:], returning nanoseconds
// and the index after it.
func fraction(b []byte, i int) (int, int) {
	if i >= len(b) || (b[i] != '.' && b[i] != ',') {
		return 0, i
	}
	j, nsec, scale := i+1, 0, 100000000
	for j < len(b) && isDigit(b[j]) {
		nsec += int(b[j]-'0') * scale
		scale /= 10
		j++
	}
	if j == i+1 {
		return 0, i // a lone '.' or ',' is not a fraction
	}
	return nsec, j
}

// utcZone is returned for "Z" and "+00:00" so those times compare and
// format like any other UTC time without a lookup.
var utcZone = time.UTC

// zone reads "Z", "+07:00" or "+0700" at b[i:]; nothing there gives a nil
// location (the caller's default). A '+' or '-' that does not start a
// valid offset fails.
func zone(b []byte, i int) (*time.Location, int, bool) {
	if i >= len(b) {
		return nil, i, true
	}
	switch b[i] {
	case 'Z', 'z':
		return utcZone, i + 1, true
	case '+', '-':
	default:
		return nil, i, true
	}
	r := b[i+1:]
	var h, m int
	var ok1, ok2 bool
	n := 0
	switch {
	case len(r) >= 5 && r[2] == ':':
		h, ok1 = digits(r[0:2])
		m, ok2 = digits(r[3:5])
		n = 5
	case len(r) >= 4:
		h, ok1 = digits(r[0:2])
		m, ok2 = digits(r[2:4])
		n = 4
	}
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return nil, 0, false
	}
	off := h*3600 + m*60
	if b[i] == '-' {
		off = -off
	}
	if off == 0 {
		return utcZone, i + 1 + n, true
	}
	return fixedZone(off), i + 1 + n, true
}

// fixedZone returns a location for an offset in seconds; the usual
// offsets (whole quarter hours) are made once, so no line allocates one.
func fixedZone(off int) *time.Location {
	if off%900 == 0 && off >= -14*3600 && off <= 14*3600 {
		return quarterZones[off/900+56]
	}
	return time.FixedZone("", off)
}

var quarterZones = func() []*time.Location {
	z := make([]*time.Location, 113)
	for i := range z {
		z[i] = time.FixedZone("", (i-56)*900)
	}
	return z
}()

func monthOf(b []byte) (int, bool) {
	if len(b) < 3 {
		return 0, false
	}
	key := uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	switch key {
	case 'J'<<16 | 'a'<<8 | 'n':
		return 1, true
	case 'F'<<16 | 'e'<<8 | 'b':
		return 2, true
	case 'M'<<16 | 'a'<<8 | 'r':
		return 3, true
	case 'A'<<16 | 'p'<<8 | 'r':
		return 4, true
	case 'M'<<16 | 'a'<<8 | 'y':
		return 5, true
	case 'J'<<16 | 'u'<<8 | 'n':
		return 6, true
	case 'J'<<16 | 'u'<<8 | 'l':
		return 7, true
	case 'A'<<16 | 'u'<<8 | 'g':
		return 8, true
	case 'S'<<16 | 'e'<<8 | 'p':
		return 9, true
	case 'O'<<16 | 'c'<<8 | 't':
		return 10, true
	case 'N'<<16 | 'o'<<8 | 'v':
		return 11, true
	case 'D'<<16 | 'e'<<8 | 'c':
		return 12, true
	}
	return 0, false
}

func valid(month, day, hour, minute, sec int) bool {
	return month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && sec <= 60
}

// daysIn is the number of days of month in year. A day past it ("Feb 30")
// names no time: time.Date would carry it into the next month, and the
// line would be placed on a day it does not write.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// digits reads b as a decimal number; every byte must be a digit.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// leadingInt reads up to max digits at the start of b.
func leadingInt(b []byte, max int) (int, int) {
	n, i := 0, 0
	for i < len(b) && i < max && isDigit(b[i]) {
		n = n*10 + int(b[i]-'0')
		i++
	}
	return n, i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isUpper(c) || isLower(c) }
