package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Secrets: a password written in the ini is readable by whoever reads the
// ini, and ends up in backups and configuration repositories. Each secret
// key therefore has a twin, <key>_file, naming a file that holds the value
// (a systemd credential, a Kubernetes or Docker secret, a file only root
// reads). brun reads it at load and trims trailing newlines, as
// `echo secret > file` leaves one. Setting a key and its twin both is an
// error: which one wins would be a guess.

// maxSecretBytes bounds what a *_file key reads: a secret is short, and a
// mistaken path (/dev/zero, a log file) must not be read to the end.
const maxSecretBytes = 64 << 10

// secret is one key whose value brun never prints.
type secret struct {
	key   string // section.key
	field func(*Config) *string
}

// secrets lists every secret key; each also gets its <key>_file twin.
var secrets = []secret{
	{"etcd.password", func(c *Config) *string { return &c.Etcd.Password }},
	{"kafka.sasl.password", func(c *Config) *string { return &c.Kafka.SASLPassword }},
	{"es.password", func(c *Config) *string { return &c.ES.Password }},
	{"es.apikey", func(c *Config) *string { return &c.ES.APIKey }},
	{"console.token", func(c *Config) *string { return &c.Console.Token }},
}

// SecretKeys lists the keys, as section.key, whose values are secrets:
// whatever reports on a configuration must not print their values.
func SecretKeys() []string {
	out := make([]string, len(secrets))
	for i, s := range secrets {
		out[i] = s.key
	}
	return out
}

// SecretValues returns the values of the secret keys that are set, so
// that a report can be scrubbed of them.
func (c *Config) SecretValues() []string {
	var out []string
	for _, s := range secrets {
		if v := *s.field(c); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func init() {
	for _, s := range secrets {
		sec, key, _ := strings.Cut(s.key, ".")
		keys[sec][key+"_file"] = func(c *Config, v string) error {
			if v == "" {
				delete(c.SecretFiles, s.key)
				return nil
			}
			if c.SecretFiles == nil {
				c.SecretFiles = map[string]string{}
			}
			c.SecretFiles[s.key] = v
			return nil
		}
	}
}

// readSecretFiles sets each secret whose *_file twin is set from that
// file, and returns every problem: a twin set beside its key, a file that
// can't be read, is empty or too large. Each names the *_file key and the
// path, never the value.
func (c *Config) readSecretFiles() []error {
	var errs []error
	for _, s := range secrets {
		path, ok := c.SecretFiles[s.key]
		if !ok {
			continue
		}
		twin := s.key + "_file"
		if *s.field(c) != "" {
			errs = append(errs, &Error{Key: twin, Value: path, Reason: fmt.Sprintf("is set, and so is %s: set one of them", s.key)})
			continue
		}
		v, err := readSecret(path)
		if err != nil {
			errs = append(errs, &Error{Key: twin, Value: path, Reason: err.Error()})
			continue
		}
		*s.field(c) = v
	}
	return errs
}

// readSecret reads a secret file, without its trailing newlines.
func readSecret(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is named by the caller
		}
		return "", fmt.Errorf("can't be read: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretBytes+1))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("can't be read: %w", err)
	}
	if len(b) > maxSecretBytes {
		return "", fmt.Errorf("is larger than %d KiB: not a secret file", maxSecretBytes>>10)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", errors.New("is empty")
	}
	return v, nil
}
