// Package enrich reads what a plain log line says about itself: the time
// at its start (RFC 3339, "2006-01-02 15:04:05,000", syslog without a
// year, Apache's "[Sun Dec 04 04:47:44 2005]", the common log format's
// "[10/Oct/2000:13:55:36 -0700]") and its level (INFO, [warn],
// level=error ...).
//
// It runs once per document on the transfer's hot path, so it never
// allocates and never uses a regular expression or time.Parse: each format
// is matched by hand, byte by byte, at the start of the line.
//
// Times without a zone are taken as UTC: the transfer can't know the zone
// of the host that wrote the line.
//
// It is a leaf: it imports nothing from brun and does no I/O.
package enrich
