package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
)

// jobCache keeps the last job set etcd gave the agent under data.dir, so
// an agent that starts while etcd is down runs its last known jobs.
type jobCache struct {
	path string
	last map[string][]byte
}

// load returns the cached jobs, nil when there is no cache yet.
func (c *jobCache) load() (map[string][]byte, error) {
	data, err := os.ReadFile(c.path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("job cache %s: %w", c.path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("job cache %s: %w (ignored; etcd's jobs run once it answers)", c.path, err)
	}
	out := make(map[string][]byte, len(raw))
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("job cache %s: %s: %w", c.path, k, err)
		}
		out[k] = []byte(s)
	}
	c.last = out
	return out, nil
}

// save writes jobs when they differ from what was saved last.
func (c *jobCache) save(jobs map[string][]byte) error {
	if c.last != nil && maps.EqualFunc(c.last, jobs, bytes.Equal) {
		return nil
	}
	out := make(map[string]string, len(jobs))
	for k, v := range jobs {
		out[k] = string(v) // kept as stored: an invalid job stays invalid
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("job cache: %w", err)
	}
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("job cache %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return fmt.Errorf("job cache %s: %w", c.path, err)
	}
	c.last = maps.Clone(jobs)
	return nil
}
