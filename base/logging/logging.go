package logging

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	rotatelogs "github.com/lestrrat-go/file-rotatelogs"
	"github.com/sirupsen/logrus"

	"brun/base/config"
)

// Setup points the standard logrus logger at the configured destination and
// returns a closer for the log file (a no-op for stderr). It is called once,
// after the configuration is validated and before any role starts.
func Setup(c *config.Config) (io.Closer, error) {
	level, err := logrus.ParseLevel(c.Log.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	logrus.SetLevel(level)
	logrus.SetReportCaller(c.Log.EnableLineLog)
	logrus.SetFormatter(&logrus.TextFormatter{
		FullTimestamp:    true,
		TimestampFormat:  "2006-01-02T15:04:05.000Z07:00",
		CallerPrettyfier: shortCaller,
	})
	if c.Log.Dir == "" {
		logrus.SetOutput(os.Stderr)
		return io.NopCloser(nil), nil
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
	return w, nil
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
