// Package job owns the job spec: the JSON value of an etcd key
// <prefix>job/<agent-id>/<job-name>, its parsing and its validation. The
// agent and the console share this one validator, so a job the console
// accepts is a job the agent runs.
//
// Every field is bounded so that a hostile value costs the agent little:
// path and exclude globs (doublestar's, with ** and {a,b}) in length, **
// segments and expansions; include_lines and exclude_lines in count and
// size (RE2 matches in linear time); ignore_older in range.
//
// It is a leaf: it does no I/O but read the zone database, and imports
// from brun only base/textdist (for "did you mean") and servers/enrich
// (the leaf that reads times: what layouts and zones are valid).
package job
