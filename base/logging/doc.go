// Package logging sets up brun's own logs: logrus, written to a file that
// lestrrat-go/file-rotatelogs rotates per the [log] section, or to stderr
// when log.dir is empty.
//
// It owns the process-wide logrus logger's output, level and format; other
// packages only add fields (component, job, path, topic) and never change
// those settings.
package logging
