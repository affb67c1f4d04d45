package etcdx

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"go.etcd.io/etcd/client/pkg/v3/logutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// etcdLog is the embedded etcd's own log file, in its directory.
const etcdLog = "etcd.log"

// etcdLogger is the zap logger the embedded etcd logs through, and its
// file.
type etcdLogger struct {
	zap   *zap.Logger
	file  *os.File
	muted atomic.Bool // set when brun stops etcd
}

// quietMessages are etcd warnings brun's log leaves out (etcd.log keeps
// them): they are about choices made here, not about something wrong.
var quietMessages = map[string]bool{
	// etcd warns at every start that its simple tokens are not signed
	// JWTs; they never leave the host's loopback.
	"simple token is not cryptographically signed": true,
}

// newEtcdLogger builds the zap logger the embedded etcd logs through.
// Warnings and errors go to dir/etcd.log in etcd's own JSON format, as a
// standalone etcd writes them, and also to brun's log (log, usually
// logging.For("etcd")), so that what goes wrong in etcd is seen where the
// operator looks. etcd gives up with Fatal or Panic (a WAL write that
// failed because the disk is full, a WAL it can't create): those become
// one line on log and on stderr that names the directory and the reason,
// then exit(1) — never a Go panic and its stack trace, and never a return
// into etcd, which assumes the call does not come back.
func newEtcdLogger(dir string, log *logrus.Entry, stderr io.Writer, exit func(int)) (*etcdLogger, error) {
	path := filepath.Join(dir, etcdLog)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd's log: %w", err)
	}
	l := &etcdLogger{file: f}
	file := zapcore.Lock(f)
	core := zapcore.NewTee(
		zapcore.NewCore(zapcore.NewJSONEncoder(logutil.DefaultZapLoggerConfig.EncoderConfig), file, zapcore.WarnLevel),
		&logrusCore{log: log, muted: &l.muted},
	)
	// As etcd samples its own log: a warning repeated in a burst (a slow
	// disk makes every apply "took too long") does not flood either log.
	core = zapcore.NewSamplerWithOptions(core, time.Second, 100, 100)
	hook := &exitHook{dir: dir, log: log, stderr: stderr, exit: exit}
	l.zap = zap.New(core,
		zap.AddCaller(),
		zap.AddStacktrace(zapcore.ErrorLevel),
		zap.ErrorOutput(file),
		zap.WithFatalHook(hook),
		zap.WithPanicHook(hook),
	)
	return l, nil
}

// stopping is called before brun stops etcd: what etcd logs from then on
// (each of its servers reports that it was closed, as an error) is for
// etcd.log only.
func (l *etcdLogger) stopping() { l.muted.Store(true) }

// close closes etcd.log once etcd has stopped.
func (l *etcdLogger) close() error { return l.file.Close() }

// logrusCore is a zap core that writes etcd's warnings and errors to
// brun's logrus log, with etcd's fields as logrus fields. Fatal and Panic
// records are left to exitHook, which says what they mean for brun.
type logrusCore struct {
	log    *logrus.Entry
	muted  *atomic.Bool
	fields []zapcore.Field // added by With
}

func (c *logrusCore) Enabled(l zapcore.Level) bool {
	return l >= zapcore.WarnLevel && l <= zapcore.DPanicLevel && !c.muted.Load()
}

func (c *logrusCore) With(fields []zapcore.Field) zapcore.Core {
	return &logrusCore{log: c.log, muted: c.muted, fields: append(slices.Clip(c.fields), fields...)}
}

func (c *logrusCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) && !quietMessages[e.Message] {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *logrusCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	entry := c.log.WithFields(logrusFields(c.fields, fields))
	if e.Level == zapcore.WarnLevel {
		entry.Warn(e.Message)
	} else {
		entry.Error(e.Message)
	}
	return nil
}

func (c *logrusCore) Sync() error { return nil }

// logrusFields turns zap fields into logrus fields. "component" stays the
// one logging.For set, so that component=etcd finds every etcd line.
func logrusFields(lists ...[]zapcore.Field) logrus.Fields {
	enc := zapcore.NewMapObjectEncoder()
	for _, fields := range lists {
		for _, f := range fields {
			f.AddTo(enc)
		}
	}
	delete(enc.Fields, "component")
	return logrus.Fields(enc.Fields)
}

// exitHook is zap's fatal and panic hook for the embedded etcd: it reports
// the reason once, on brun's log and on stderr, then calls exit(1). exit is
// os.Exit but in tests; a hook that returns would let etcd go on after a
// failure it treats as final.
type exitHook struct {
	dir    string
	log    *logrus.Entry
	stderr io.Writer
	exit   func(int)
	once   sync.Once
}

// OnWrite runs after zap wrote the record to etcd.log.
func (h *exitHook) OnWrite(ce *zapcore.CheckedEntry, fields []zapcore.Field) {
	h.once.Do(func() {
		reason := ce.Message
		if err, ok := logrusFields(fields)["error"]; ok {
			reason += ": " + fmt.Sprint(err)
		}
		if n, err := freeSpace(h.dir); err == nil {
			reason += fmt.Sprintf(" (%s free there)", mib(n))
		}
		line := fmt.Sprintf("embedded etcd in data.dir/etcd %s stopped: %s; brun exits (etcd's log: %s)",
			h.dir, reason, filepath.Join(h.dir, etcdLog))
		h.log.Error(line)
		fmt.Fprintln(h.stderr, "brun: "+line)
	})
	h.exit(1)
}
