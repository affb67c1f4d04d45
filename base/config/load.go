package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/ini.v1"
)

// appNameVar is the placeholder the seed's sample uses in log.file.name.
const appNameVar = "${app.name}"

// Error is a problem with one key of the configuration. Its message names
// the key as section.key and quotes the offending value.
type Error struct {
	Key    string // "section.key"
	Value  string
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %q %s", e.Key, e.Value, e.Reason)
}

// setter parses one raw ini value into the configuration.
type setter func(c *Config, raw string) error

// keys lists every key brun understands, by section. A key in the file that
// is not listed here is an error, so that typos don't pass unnoticed.
var keys = map[string]map[string]setter{
	"brun": {
		"roles":          func(c *Config, v string) error { c.Brun.Roles = splitList(v); return nil },
		"data.dir":       func(c *Config, v string) error { c.Brun.DataDir = v; return nil },
		"metrics.listen": func(c *Config, v string) error { c.Brun.MetricsListen = v; return nil },
	},
	"agent": {
		"id":    func(c *Config, v string) error { c.Agent.ID = v; return nil },
		"allow": func(c *Config, v string) error { c.Agent.Allow = splitList(v); return nil },
	},
	"etcd": {
		"endpoints":    func(c *Config, v string) error { c.Etcd.Endpoints = splitList(v); return nil },
		"dialTimeout":  durationMS(func(c *Config) *time.Duration { return &c.Etcd.DialTimeout }),
		"prefix":       func(c *Config, v string) error { c.Etcd.Prefix = v; return nil },
		"embed.listen": func(c *Config, v string) error { c.Etcd.EmbedListen = v; return nil },
		"username":     func(c *Config, v string) error { c.Etcd.Username = v; return nil },
		"password":     func(c *Config, v string) error { c.Etcd.Password = v; return nil },
	},
	"kafka": {
		"endpoints":      func(c *Config, v string) error { c.Kafka.Endpoints = splitList(v); return nil },
		"chanMsgSize":    positiveInt(func(c *Config) *int { return &c.Kafka.ChanMsgSize }),
		"compression":    func(c *Config, v string) error { c.Kafka.Compression = strings.ToLower(v); return nil },
		"batch.bytes":    positiveInt(func(c *Config) *int { return &c.Kafka.BatchBytes }),
		"batch.linger":   duration(func(c *Config) *time.Duration { return &c.Kafka.BatchLinger }),
		"partitions":     nonNegativeInt(func(c *Config) *int { return &c.Kafka.Partitions }),
		"replication":    nonNegativeInt(func(c *Config) *int { return &c.Kafka.Replication }),
		"sasl.mechanism": func(c *Config, v string) error { c.Kafka.SASLMechanism = strings.ToUpper(v); return nil },
		"sasl.username":  func(c *Config, v string) error { c.Kafka.SASLUsername = v; return nil },
		"sasl.password":  func(c *Config, v string) error { c.Kafka.SASLPassword = v; return nil },
	},
	"es": {
		"endpoints":      func(c *Config, v string) error { c.ES.Endpoints = splitList(v); return nil },
		"dialTimeout":    durationMS(func(c *Config) *time.Duration { return &c.ES.DialTimeout }),
		"chanSize":       positiveInt(func(c *Config) *int { return &c.ES.ChanSize }),
		"nums":           positiveInt(func(c *Config) *int { return &c.ES.Nums }),
		"bulk.actions":   positiveInt(func(c *Config) *int { return &c.ES.BulkActions }),
		"bulk.bytes":     positiveInt(func(c *Config) *int { return &c.ES.BulkBytes }),
		"flush.interval": duration(func(c *Config) *time.Duration { return &c.ES.FlushInterval }),
		"index":          func(c *Config, v string) error { c.ES.Index = v; return nil },
		"shards":         positiveInt(func(c *Config) *int { return &c.ES.Shards }),
		"replicas":       nonNegativeInt(func(c *Config) *int { return &c.ES.Replicas }),
		"refresh":        func(c *Config, v string) error { c.ES.Refresh = v; return nil },
		"username":       func(c *Config, v string) error { c.ES.Username = v; return nil },
		"password":       func(c *Config, v string) error { c.ES.Password = v; return nil },
		"apikey":         func(c *Config, v string) error { c.ES.APIKey = v; return nil },
		"local.keep":     duration(func(c *Config) *time.Duration { return &c.ES.LocalKeep }),
		"retention":      retention,
	},
	"transfer": {
		"topics":          func(c *Config, v string) error { c.Transfer.Topics = splitList(v); return nil },
		"group":           func(c *Config, v string) error { c.Transfer.Group = v; return nil },
		"session.timeout": duration(func(c *Config) *time.Duration { return &c.Transfer.SessionTimeout }),
	},
	"console": {
		"listen": func(c *Config, v string) error { c.Console.Listen = v; return nil },
		"token":  func(c *Config, v string) error { c.Console.Token = v; return nil },
		"hosts":  func(c *Config, v string) error { c.Console.Hosts = splitList(v); return nil },
		"kibana.url": func(c *Config, v string) error {
			c.Console.KibanaURL = strings.TrimRight(v, "/")
			return nil
		},
	},
	"demo": {
		"path":  func(c *Config, v string) error { c.Demo.Path = v; return nil },
		"rate":  positiveInt(func(c *Config) *int { return &c.Demo.Rate }),
		"topic": func(c *Config, v string) error { c.Demo.Topic = v; return nil },
	},
	"log": {
		"dir":           func(c *Config, v string) error { c.Log.Dir = v; return nil },
		"file.name":     func(c *Config, v string) error { c.Log.FileName = v; return nil },
		"max.age":       duration(func(c *Config) *time.Duration { return &c.Log.MaxAge }),
		"rotation.time": duration(func(c *Config) *time.Duration { return &c.Log.RotationTime }),
		"level":         func(c *Config, v string) error { c.Log.Level = strings.ToLower(v); return nil },
		"enableLineLog": boolean(func(c *Config) *bool { return &c.Log.EnableLineLog }),
		"format":        func(c *Config, v string) error { c.Log.Format = strings.ToLower(v); return nil },
	},
}

func init() {
	for _, sec := range []string{"etcd", "kafka", "es"} {
		field := func(c *Config) *TLS {
			switch sec {
			case "etcd":
				return &c.Etcd.TLS
			case "kafka":
				return &c.Kafka.TLS
			}
			return &c.ES.TLS
		}
		keys[sec]["tls.enabled"] = boolean(func(c *Config) *bool { return &field(c).Enabled })
		keys[sec]["tls.ca"] = func(c *Config, v string) error { field(c).CA = v; return nil }
		keys[sec]["tls.cert"] = func(c *Config, v string) error { field(c).Cert = v; return nil }
		keys[sec]["tls.key"] = func(c *Config, v string) error { field(c).Key = v; return nil }
		keys[sec]["tls.insecureSkipVerify"] = boolean(func(c *Config) *bool { return &field(c).InsecureSkipVerify })
	}
}

// LoadError is a file that was read but holds problems: every unknown
// section or key, every bad value, and every failed check of Validate, all
// at once, so that one run of `brun check` lists everything to fix.
type LoadError struct {
	Path     string
	Problems []error // each names its section.key (an *Error), or the unknown section or key
}

// Error gives the file, then one problem per line.
func (e *LoadError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return fmt.Sprintf("config file %s: %s", e.Path, strings.Join(msgs, "\n"))
}

// Unwrap gives the problems, for errors.Is and errors.As.
func (e *LoadError) Unwrap() []error { return e.Problems }

// Load reads the ini file at path over the defaults and validates the
// result. It does no network I/O. A file that can't be read or parsed is
// an error naming it; a file with problems is a *LoadError listing all of
// them, each naming its section.key.
func Load(path string) (*Config, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	f, err := ini.LoadSources(ini.LoadOptions{
		// Seed files carry values such as "${app.name}" and ";" comments; keep
		// values literal apart from comments.
		IgnoreInlineComment:      false,
		SpaceBeforeInlineComment: true,
	}, path)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	c := Default()
	c.Path = path
	problems := apply(&c, f)
	c.resolvePaths(filepath.Dir(path))
	problems = append(problems, c.readSecretFiles()...)
	// Validate runs even when some keys were refused: those keep their
	// defaults, which are valid, so what it finds are further problems of
	// the file, not echoes of the ones above.
	if err := c.Validate(); err != nil {
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			problems = append(problems, joined.Unwrap()...)
		} else {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		return nil, &LoadError{Path: path, Problems: problems}
	}
	return &c, nil
}

// apply sets every key present in f and returns every problem, in file
// order: unknown sections and keys (with the known name a typo most likely
// meant), variables that can't be expanded, and values a key's setter
// refuses.
func apply(c *Config, f *ini.File) []error {
	var errs []error
	for _, sec := range f.Sections() {
		name := sec.Name()
		known, ok := keys[name]
		if name == ini.DefaultSection {
			known, ok = map[string]setter{}, true
		}
		if !ok {
			errs = append(errs, fmt.Errorf("unknown section [%s] (known: %s)%s", name, strings.Join(sectionNames(), ", "), didYouMean(name, sectionNames())))
			continue
		}
		for _, k := range sec.Keys() {
			set, ok := known[k.Name()]
			if !ok {
				errs = append(errs, unknownKey(name, k.Name()))
				continue
			}
			v, ref, reason := expand(strings.TrimSpace(k.Value()), os.LookupEnv)
			if reason != "" {
				errs = append(errs, &Error{Key: name + "." + k.Name(), Value: ref, Reason: reason})
				continue
			}
			if c.Written == nil {
				c.Written = map[string]string{}
			}
			c.Written[name+"."+k.Name()] = v
			if err := set(c, v); err != nil {
				var ce *Error
				if errors.As(err, &ce) {
					ce.Key = name + "." + k.Name()
				}
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// unknownKey explains a key brun does not know: outside any section it
// names the sections that have it; inside one, the key of that section it
// most likely meant.
func unknownKey(section, key string) error {
	if section == ini.DefaultSection {
		hint := ""
		if in := sectionsWithKey(key); len(in) > 0 {
			hint = "; it belongs under " + strings.Join(in, " or ")
		}
		return fmt.Errorf("unknown key %s (outside any section)%s", key, hint)
	}
	return fmt.Errorf("unknown key %s.%s%s", section, key, didYouMean(key, keyNames(section)))
}

func sectionNames() []string {
	names := make([]string, 0, len(keys))
	for n := range keys {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func positiveInt(field func(*Config) *int) setter {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return &Error{Value: v, Reason: "is not a positive integer"}
		}
		*field(c) = n
		return nil
	}
}

func nonNegativeInt(field func(*Config) *int) setter {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return &Error{Value: v, Reason: "is not a non-negative integer"}
		}
		*field(c) = n
		return nil
	}
}

func boolean(field func(*Config) *bool) setter {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return &Error{Value: v, Reason: "is not true or false"}
		}
		*field(c) = b
		return nil
	}
}

// durationMS accepts a bare number of milliseconds (the seed's dialTimeout =
// 5000) or a Go duration such as "5s".
func durationMS(field func(*Config) *time.Duration) setter {
	return func(c *Config, v string) error {
		if n, err := strconv.Atoi(v); err == nil {
			if n <= 0 {
				return &Error{Value: v, Reason: "is not a positive number of milliseconds"}
			}
			if n > math.MaxInt64/int(time.Millisecond) {
				return &Error{Value: v, Reason: fmt.Sprintf("is more milliseconds than a duration holds (at most %d)", math.MaxInt64/int(time.Millisecond))}
			}
			*field(c) = time.Duration(n) * time.Millisecond
			return nil
		}
		d, err := ParseDuration(v)
		if err != nil || d <= 0 {
			return &Error{Value: v, Reason: "is not a positive duration (milliseconds, or e.g. 5s)"}
		}
		*field(c) = d
		return nil
	}
}

func duration(field func(*Config) *time.Duration) setter {
	return func(c *Config, v string) error {
		d, err := ParseDuration(v)
		if err != nil || d <= 0 {
			return &Error{Value: v, Reason: "is not a positive duration (e.g. 7d, 24h, 30m)"}
		}
		*field(c) = d
		return nil
	}
}

// retention sets es.retention: empty keeps indices forever; else at
// least a day, as a shorter one would delete the index being written.
func retention(c *Config, v string) error {
	if strings.TrimSpace(v) == "" {
		c.ES.Retention = 0
		return nil
	}
	d, err := ParseDuration(v)
	if err != nil || d < 24*time.Hour {
		return &Error{Value: v, Reason: "is not a duration of at least a day (e.g. 30d), or empty to keep indices forever"}
	}
	c.ES.Retention = d
	return nil
}

// ParseDuration is time.ParseDuration plus a "d" (24h) unit, so that the
// seed's "max.age = 7d" means seven days. Units may be mixed: "1d12h". A
// value beyond what a time.Duration holds (about 106,751 days) is an
// error, never a wrapped-around small one.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	const maxDays = int64(math.MaxInt64 / (24 * time.Hour))
	var total time.Duration
	for {
		i := strings.IndexByte(s, 'd')
		if i < 0 {
			break
		}
		days, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		if days > maxDays || time.Duration(days)*24*time.Hour > math.MaxInt64-total {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		total += time.Duration(days) * 24 * time.Hour
		s = s[i+1:]
	}
	if s == "" {
		return total, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	if d > math.MaxInt64-total {
		return 0, fmt.Errorf("duration %q is too long", s)
	}
	return total + d, nil
}

// LogFileName returns log.file.name with the seed's ${app.name} replaced.
func (c *Config) LogFileName() string {
	return strings.ReplaceAll(c.Log.FileName, appNameVar, "brun")
}

// resolvePaths makes every relative file or directory path of the
// configuration, written or default, relative to dir, the ini file's
// directory: brun finds the same files whatever directory it is started
// in (a service starts in /). An empty path stays empty (it means "none",
// or stderr for log.dir).
func (c *Config) resolvePaths(dir string) {
	paths := []*string{
		&c.Brun.DataDir, &c.Log.Dir, &c.Demo.Path,
		&c.Etcd.TLS.CA, &c.Etcd.TLS.Cert, &c.Etcd.TLS.Key,
		&c.Kafka.TLS.CA, &c.Kafka.TLS.Cert, &c.Kafka.TLS.Key,
		&c.ES.TLS.CA, &c.ES.TLS.Cert, &c.ES.TLS.Key,
	}
	for _, p := range paths {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for key, p := range c.SecretFiles {
		if p != "" && !filepath.IsAbs(p) {
			c.SecretFiles[key] = filepath.Join(dir, p)
		}
	}
}
