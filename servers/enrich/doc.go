// Package enrich reads what a plain log line says about itself: its time
// and its level.
//
// The time is looked for in the line's first 256 bytes, at each token
// start from left to right, so a host name, a file name, a thread id, a
// sequence number or a PID may come before it; the first that reads fully
// as a known format is taken, except that one inside a file name or a URL
// gives way to any that follows. Formats: ISO 8601 / RFC 3339 ('T' or
// space, ',' or '.' fractions, Z, +07:00, +0700), log4j/logback/Python
// ("2006-01-02 15:04:05,000"), Go's log and nginx's error log
// ("2006/01/02 15:04:05"), klog ("I1203 07:31:37.123456"), syslog RFC
// 3164 ("Jan  2 15:04:05") and RFC 5424, Apache's "[Sun Dec 04 04:47:44
// 2005]", the common log format's "10/Oct/2000:13:55:36 -0700", HDFS's
// "081109 203615", Spark's "17/06/09 20:10:40", logcat's "03-17
// 16:13:38.811", "10.30 16:49:06", and epoch seconds or milliseconds near
// the line's start within 20 years of the read time. A format without a
// year gets the one that puts the time nearest before the read time.
//
// The level is looked for where formats put it: klog's and logcat's
// letters, a syslog priority, the few words after the time (capitalized
// ones only right after it or in brackets), logfmt's level= and JSON's
// "level":. doc/recognition.md measures both on real samples.
//
// It runs once per document on the transfer's hot path, so it never
// allocates and never uses a regular expression or time.Parse: each format
// is matched by hand, byte by byte.
//
// A time written without a zone is a time in the zone the caller gives
// (the writing host's, event.timezone).
//
// It is a leaf: it imports nothing from brun and does no I/O.
package enrich
