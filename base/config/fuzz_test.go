package config

import (
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/ini.v1"
)

// brun runs as root and reads its ini file before anything else; a file
// anyone could edit must not crash it or be read as something it does
// not say. `make fuzz` runs these targets; `go test` runs their seeds.

// FuzzLoad loads any file content. An accepted configuration validates
// again, unchanged, and holds only positive durations and sizes; a
// refused one is explained key by key: every problem names a known
// section.key (or an unknown section or key of the file), and the whole
// error names the file.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"brun.ini", "stack.ini", "cluster.ini"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "conf", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "[etcd]\ndialTimeout = 5000\n[log]\nmax.age = 7d\nrotation.time = 24h\n"))
	f.Add([]byte("[es]\nnums = many\n[elastic]\nx = 1\norphan\n"))
	f.Add([]byte("key = outside\n[log]\nfile.name = ${app.name}\nlevel = debug ; comment\n"))
	f.Add([]byte("\xef\xbb\xbf[brun]\r\nroles = agent,transfer\r\n"))
	f.Add([]byte("[log]\nmax.age = 106751d23h47m16s\nrotation.time = 1ns\n"))
	f.Add([]byte("[kafka]\nbatch.linger = \"\"\"\n50ms\n\"\"\"\n"))
	path := filepath.Join(f.TempDir(), "brun.ini")
	f.Fuzz(func(t *testing.T, content []byte) {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			checkLoadError(t, content, path, err)
			return
		}
		again := *c
		if err := again.Validate(); err != nil {
			t.Fatalf("loaded, yet does not validate again: %v\n%q", err, content)
		}
		if !reflect.DeepEqual(again, *c) {
			t.Fatalf("validating again changed the configuration:\n%+v\n%+v", *c, again)
		}
		checkMilliseconds(t, content, "etcd", c.Etcd.DialTimeout)
		checkMilliseconds(t, content, "es", c.ES.DialTimeout)
		for name, d := range map[string]time.Duration{
			"etcd.dialTimeout": c.Etcd.DialTimeout, "es.dialTimeout": c.ES.DialTimeout,
			"kafka.batch.linger": c.Kafka.BatchLinger, "es.flush.interval": c.ES.FlushInterval,
			"es.local.keep": c.ES.LocalKeep, "log.max.age": c.Log.MaxAge, "log.rotation.time": c.Log.RotationTime,
		} {
			if d <= 0 {
				t.Fatalf("%s loaded as %v from %q", name, d, content)
			}
		}
		for name, n := range map[string]int{
			"kafka.chanMsgSize": c.Kafka.ChanMsgSize, "kafka.batch.bytes": c.Kafka.BatchBytes, "es.chanSize": c.ES.ChanSize,
			"es.nums": c.ES.Nums, "es.bulk.actions": c.ES.BulkActions, "es.bulk.bytes": c.ES.BulkBytes,
			"es.shards": c.ES.Shards, "demo.rate": c.Demo.Rate,
		} {
			if n <= 0 {
				t.Fatalf("%s loaded as %d from %q", name, n, content)
			}
		}
	})
}

// checkMilliseconds checks that a <section>.dialTimeout written as a bare
// number of milliseconds was loaded as exactly that many: a number too
// large for a time.Duration must be refused, not wrapped around.
func checkMilliseconds(t *testing.T, content []byte, section string, got time.Duration) {
	t.Helper()
	f, err := ini.LoadSources(ini.LoadOptions{SpaceBeforeInlineComment: true}, content)
	if err != nil || !f.Section(section).HasKey("dialTimeout") {
		return
	}
	v := strings.TrimSpace(f.Section(section).Key("dialTimeout").Value())
	if _, err := strconv.Atoi(v); err != nil {
		return // a Go duration such as 5s
	}
	ms, _ := new(big.Int).SetString(v, 10)
	want := ms.Mul(ms, big.NewInt(int64(time.Millisecond)))
	if !want.IsInt64() {
		t.Fatalf("%s.dialTimeout = %s ms is more than a duration holds, yet loaded as %v", section, v, got)
	}
	if want.Int64() != int64(got) {
		t.Fatalf("%s.dialTimeout = %s loaded as %v", section, v, got)
	}
}

// checkLoadError checks that a refusal names the file, and that each of
// the problems it joins names a known section.key or an unknown section
// or key. A file the ini reader can't parse is named as a whole.
func checkLoadError(t *testing.T, content []byte, path string, err error) {
	t.Helper()
	if !strings.Contains(err.Error(), path) {
		t.Fatalf("error %q does not name the file", err)
	}
	var le *LoadError
	if !errors.As(err, &le) {
		return // the ini reader's own error, about the file as a whole
	}
	if len(le.Problems) == 0 {
		t.Fatalf("error %q holds no problem", err)
	}
	for _, e := range le.Problems {
		var ce *Error
		msg := e.Error()
		switch {
		case errors.As(e, &ce):
			sec, key, _ := strings.Cut(ce.Key, ".")
			if _, known := keys[sec][key]; !known {
				t.Fatalf("problem %q names %q, not a section.key\n%q", msg, ce.Key, content)
			}
			if ce.Reason == "" || !strings.HasPrefix(msg, ce.Key+": ") {
				t.Fatalf("problem %q does not start with its key or gives no reason", msg)
			}
		case strings.HasPrefix(msg, "unknown section ["), strings.HasPrefix(msg, "unknown key "):
		default:
			t.Fatalf("problem %q names no key\n%q", msg, content)
		}
	}
}

// FuzzParseDuration checks ParseDuration on any text: no negative or
// wrapped-around value, exactly the sum of its parts (counted without
// overflow), and the value's own String() reads back as the same value.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"7d", "24h", "1d12h", "90m", "5s", "1.5h", "1d2h3m4.5s", "106751d", "106751d23h47m16.854775807s",
		"106752d", "213504d", "9223372036854775807d", "1d2562047h", "-1d", "-0d", "+1d", "", " 7d ", "d", "1dd", "0.000000001s", "1d-5m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if d != 0 {
				t.Fatalf("ParseDuration(%q) = %v with error %v", s, d, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		if want, ok := exactDuration(s); ok && want.Cmp(big.NewInt(int64(d))) != 0 {
			t.Fatalf("ParseDuration(%q) = %v (%d ns), but its parts add up to %s ns", s, d, int64(d), want)
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, but ParseDuration(%q) = %v, %v", s, d, d.String(), back, err)
		}
	})
}

// exactDuration adds up the "<n>d" parts of s and the Go duration after
// them in arbitrary precision. ok is false when s is not made that way
// (the parts are then not checked).
func exactDuration(s string) (*big.Int, bool) {
	s = strings.TrimSpace(s)
	total := new(big.Int)
	day := big.NewInt(int64(24 * time.Hour))
	for {
		n, rest, found := strings.Cut(s, "d")
		if !found {
			break
		}
		days, ok := new(big.Int).SetString(n, 10)
		if !ok {
			return nil, false
		}
		total.Add(total, days.Mul(days, day))
		s = rest
	}
	if s == "" {
		return total, true
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, false
	}
	return total.Add(total, big.NewInt(int64(d))), true
}
