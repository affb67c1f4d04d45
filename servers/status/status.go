// Package status defines the values an agent writes under its lease and
// the console reads: <prefix>agent/<agent-id>, its registration, and
// <prefix>status/<agent-id>, written every few seconds: the state of each
// of the agent's jobs.
//
// It is a leaf: types only, no I/O, nothing else from brun.
package status

import "time"

// Job states.
const (
	Running   = "running"   // reading its file(s)
	Waiting   = "waiting"   // the file does not exist yet
	Invalid   = "invalid"   // the job's value is malformed; Error says why
	Forbidden = "forbidden" // the path is outside agent.allow
	Error     = "error"     // the file can't be read; Error says why
)

// Agent is the whole status value of one agent.
type Agent struct {
	ID      string    `json:"id"`
	Updated time.Time `json:"updated"`
	Jobs    []Job     `json:"jobs"`
}

// Job is the state of one job.
type Job struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	Path  string `json:"path,omitempty"`
	Topic string `json:"topic,omitempty"`
	// Lines and Bytes count what was read since the agent started.
	Lines int64 `json:"lines"`
	Bytes int64 `json:"bytes"`
	// Acked counts lines Kafka acknowledged since the agent started.
	Acked int64 `json:"acked"`
	// Dropped counts events include_lines or exclude_lines kept from
	// being sent since the agent started.
	Dropped int64  `json:"dropped,omitempty"`
	Files   []File `json:"files,omitempty"`
}

// File is one file a job reads.
type File struct {
	Path   string `json:"path"`
	Offset int64  `json:"offset"` // acknowledged offset
	Size   int64  `json:"size"`
	Lag    int64  `json:"lag"` // Size - Offset: bytes not yet acknowledged
	// OldestUnacked is when the oldest line read and not yet acknowledged
	// was read; zero when every line read is acknowledged.
	OldestUnacked time.Time `json:"oldest_unacked,omitzero"`
}

// Registration is the value of <prefix>agent/<agent-id>: who the agent is,
// as long as its lease lives.
type Registration struct {
	ID        string    `json:"id"`
	Hostname  string    `json:"hostname"`
	IP        string    `json:"ip"`
	Version   string    `json:"version"`
	PID       int       `json:"pid"`
	Roles     []string  `json:"roles"`
	StartedAt time.Time `json:"started_at"`
}
