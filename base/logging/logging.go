package logging

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	rotatelogs "github.com/lestrrat-go/file-rotatelogs"
	"github.com/sirupsen/logrus"

	"brun/base/config"
)

// Output is where brun's own log goes: a rotating file under log.dir, or
// stderr.
type Output struct {
	file *rotatelogs.RotateLogs // nil: stderr
}

// Close closes the log file (nothing for stderr).
func (o *Output) Close() error {
	if o.file == nil {
		return nil
	}
	return o.file.Close()
}

// Reopen starts a new log file, as on SIGHUP: after the current file was
// moved or deleted by hand, the log goes to a file at the expected name
// again (log.dir/<name>.log links to it). It returns the file now written,
// "" for stderr.
func (o *Output) Reopen() (string, error) {
	if o.file == nil {
		return "", nil
	}
	if err := o.file.Rotate(); err != nil {
		return "", err
	}
	return o.file.CurrentFileName(), nil
}

// Setup points the standard logrus logger at the configured destination
// and returns it. It is called once, after the configuration is validated
// and before any role starts.
func Setup(c *config.Config) (*Output, error) {
	level, err := logrus.ParseLevel(c.Log.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	logrus.SetLevel(level)
	logrus.SetReportCaller(c.Log.EnableLineLog)
	if c.Log.Format == "json" {
		// One JSON object per line, for journald, Vector or Filebeat to
		// read without a pattern: time, level, msg and the fields.
		logrus.SetFormatter(&logrus.JSONFormatter{
			TimestampFormat:  "2006-01-02T15:04:05.000Z07:00",
			CallerPrettyfier: shortCaller,
		})
	} else {
		logrus.SetFormatter(&logrus.TextFormatter{
			FullTimestamp:    true,
			TimestampFormat:  "2006-01-02T15:04:05.000Z07:00",
			CallerPrettyfier: shortCaller,
		})
	}
	if c.Log.Dir == "" {
		logrus.SetOutput(os.Stderr)
		return &Output{}, nil
	}
	if err := os.MkdirAll(c.Log.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("log.dir %s: %w", c.Log.Dir, err)
	}
	base := filepath.Join(c.Log.Dir, c.LogFileName())
	w, err := rotatelogs.New(base+".%Y%m%d%H%M.log",
		rotatelogs.WithLinkName(base+".log"),
		rotatelogs.WithMaxAge(c.Log.MaxAge),
		rotatelogs.WithRotationTime(c.Log.RotationTime),
	)
	if err != nil {
		return nil, fmt.Errorf("log.dir %s: %w", c.Log.Dir, err)
	}
	logrus.SetOutput(w)
	return &Output{file: w}, nil
}

// For returns a logger carrying the component field, the one field every
// line of brun's logs has.
func For(component string) *logrus.Entry {
	return logrus.WithField("component", component)
}

// shortCaller trims the caller to "package/file.go:line" so enableLineLog
// stays readable.
func shortCaller(f *runtime.Frame) (function, file string) {
	dir, name := filepath.Split(f.File)
	pkg := filepath.Base(strings.TrimSuffix(dir, "/"))
	return "", fmt.Sprintf("%s/%s:%d", pkg, name, f.Line)
}

// SetLevel changes the level of brun's log while it runs (a SIGHUP after
// log.level was edited). level is a valid log.level.
func SetLevel(level string) error {
	l, err := logrus.ParseLevel(level)
	if err != nil {
		return fmt.Errorf("log.level: %w", err)
	}
	logrus.SetLevel(l)
	return nil
}
