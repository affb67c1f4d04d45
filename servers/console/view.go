package console

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/etcdx"
	"brun/base/metrics"
	"brun/servers/job"
	"brun/servers/status"
)

// Agent is one agent as GET /api/agents shows it: its registration (when
// it has one), whether it is alive, and the status it last wrote.
type Agent struct {
	ID        string    `json:"id"`
	Hostname  string    `json:"hostname,omitempty"`
	IP        string    `json:"ip,omitempty"`
	Version   string    `json:"version,omitempty"`
	PID       int       `json:"pid,omitempty"`
	Roles     []string  `json:"roles,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	// Alive is true while <prefix>agent/<id> exists: the key is bound to the
	// agent's lease, so it disappears within the lease TTL of the agent's end.
	// An agent that only has jobs in etcd is listed with Alive false.
	Alive bool `json:"alive"`
	// Jobs is how many jobs etcd holds for the agent.
	Jobs int `json:"jobs"`
	// Status is the agent's last <prefix>status/<id> value; nil when there is
	// none (the agent is dead, or has not reported yet).
	Status *status.Agent `json:"status"`
}

// Job is one key under <prefix>job/ as the API shows it: the stored
// value, its etcd revision (send it back in If-Match to change the job
// safely) and the state the agent last reported for it.
type Job struct {
	// Agent and Name are read from the key; for a key that is no job they
	// are what can be read ("" when nothing can).
	Agent string `json:"agent"`
	Name  string `json:"name"`
	Key   string `json:"key"`
	// Invalid says why the key is no job key <prefix>job/<agent>/<name>
	// with a valid name; such a key never runs, and is deleted with
	// DELETE /api/jobs?key=<key>.
	Invalid string `json:"invalid,omitempty"`
	// Value is the stored JSON, written as it is (only whitespace between
	// tokens goes); Raw holds a stored value that is not JSON. Both are left out of a value over
	// maxJobBytes, which sets TooLarge and Size instead: one key must not
	// make every listing huge.
	Value    json.RawMessage `json:"value,omitempty"`
	Raw      string          `json:"raw,omitempty"`
	TooLarge bool            `json:"too_large,omitempty"`
	Size     int             `json:"size,omitempty"`
	// Revision is the key's etcd ModRevision.
	Revision int64 `json:"revision"`
	// Status is what the agent reported for the job in its last status;
	// nil when it has not reported on it yet (or is not alive).
	Status *status.Job `json:"status"`
}

// snapshot is every brun key the console shows, read at one etcd revision.
type snapshot struct {
	revision int64
	regs     map[string]status.Registration // agent id → registration
	statuses map[string]*status.Agent       // agent id → last status
	jobs     []Job                          // sorted by agent, then name
}

// read takes a snapshot of the agent/, status/ and job/ keys in one etcd
// transaction (one revision), so a job and its status agree. It updates
// the console's gauges. Every key under job/ is listed, those that are no
// job key with the reason, so that each can be seen and deleted. Values
// that are not JSON are kept raw (jobs) or skipped (registrations,
// statuses): they are the agents' to fix.
func read(ctx context.Context, cli *clientv3.Client, keys etcdx.Keys) (*snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, etcdTimeout)
	defer cancel()
	resp, err := cli.Txn(ctx).Then(
		clientv3.OpGet(keys.Prefix+"agent/", clientv3.WithPrefix()),
		clientv3.OpGet(keys.Prefix+"status/", clientv3.WithPrefix()),
		clientv3.OpGet(keys.AllJobs(), clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, err
	}
	s := &snapshot{revision: resp.Header.Revision, regs: map[string]status.Registration{}, statuses: map[string]*status.Agent{}}
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		id := strings.TrimPrefix(string(kv.Key), keys.Prefix+"agent/")
		var reg status.Registration
		if id == "" || strings.Contains(id, "/") || json.Unmarshal(kv.Value, &reg) != nil {
			continue
		}
		s.regs[id] = reg
	}
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		id := strings.TrimPrefix(string(kv.Key), keys.Prefix+"status/")
		st := new(status.Agent)
		if id == "" || strings.Contains(id, "/") || json.Unmarshal(kv.Value, st) != nil {
			continue
		}
		s.statuses[id] = st
	}
	for _, kv := range resp.Responses[2].GetResponseRange().Kvs {
		agent, name, invalid := parseJobKey(keys, string(kv.Key))
		j := Job{Agent: agent, Name: name, Key: string(kv.Key), Invalid: invalid, Revision: kv.ModRevision}
		setValue(&j, kv.Value)
		if agent != "" {
			j.Status = s.jobStatus(agent, name)
		}
		s.jobs = append(s.jobs, j)
	}
	// etcd returns keys sorted bytewise; sort by (agent, name) so an agent
	// id that is a prefix of another does not interleave their jobs.
	sort.SliceStable(s.jobs, func(a, b int) bool {
		if s.jobs[a].Agent != s.jobs[b].Agent {
			return s.jobs[a].Agent < s.jobs[b].Agent
		}
		return s.jobs[a].Name < s.jobs[b].Name
	})
	metrics.RegisteredAgents.Set(float64(len(s.regs)))
	metrics.ConfiguredJobs.Set(float64(len(s.jobs)))
	return s, nil
}

// parseJobKey reads agent and name from a key under <prefix>job/; invalid
// says why the key is no job key, or is "". An agent id that can't be a
// key segment is returned as "", so the key is shown apart from every
// agent.
func parseJobKey(keys etcdx.Keys, key string) (agent, name, invalid string) {
	rest := strings.TrimPrefix(key, keys.AllJobs())
	agent, name, found := strings.Cut(rest, "/")
	switch {
	case !found:
		if checkSegment("agent", agent) != nil {
			agent = ""
		}
		return agent, "", "no job name: a job key is " + keys.AllJobs() + "<agent-id>/<name>"
	case checkSegment("agent", agent) != nil:
		reason := "the agent id is empty"
		if agent != "" {
			reason = fmt.Sprintf("the agent id %.100q holds spaces or control characters", agent)
		}
		return "", name, reason + ": a job key is " + keys.AllJobs() + "<agent-id>/<name>"
	}
	return agent, name, job.NameError(name)
}

// jobStatus finds a job in its agent's last status.
func (s *snapshot) jobStatus(agent, name string) *status.Job {
	st := s.statuses[agent]
	if st == nil {
		return nil
	}
	for i := range st.Jobs {
		if st.Jobs[i].Name == name {
			return &st.Jobs[i]
		}
	}
	return nil
}

// agents lists every agent that is registered or has jobs, sorted by id.
func (s *snapshot) agents() []Agent {
	byID := map[string]*Agent{}
	get := func(id string) *Agent {
		a := byID[id]
		if a == nil {
			a = &Agent{ID: id}
			byID[id] = a
		}
		return a
	}
	for id, reg := range s.regs {
		a := get(id)
		a.Hostname, a.IP, a.Version, a.PID, a.Roles, a.StartedAt = reg.Hostname, reg.IP, reg.Version, reg.PID, reg.Roles, reg.StartedAt
		a.Alive = true
	}
	for _, j := range s.jobs {
		if j.Agent != "" {
			get(j.Agent).Jobs++
		}
	}
	for id, st := range s.statuses {
		get(id).Status = st
	}
	out := make([]Agent, 0, len(byID))
	for _, a := range byID {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// jobsOf returns the jobs of one agent, or of all agents when agent is "".
func (s *snapshot) jobsOf(agent string) []Job {
	out := []Job{}
	for _, j := range s.jobs {
		if agent == "" || j.Agent == agent {
			out = append(out, j)
		}
	}
	return out
}

// setValue stores a key's value in j: as JSON when it is JSON, else raw,
// and only its size when it is over maxJobBytes.
func setValue(j *Job, v []byte) {
	switch {
	case len(v) > maxJobBytes:
		j.TooLarge, j.Size = true, len(v)
	case json.Valid(v):
		j.Value = json.RawMessage(v)
	default:
		j.Raw = string(v)
	}
}

// countLoop keeps the console's gauges current while nobody reads the
// API: every countInterval it counts registrations and jobs (count-only
// reads), until ctx ends. A failed count leaves the gauges as they were.
func (s *Server) countLoop(ctx context.Context) {
	t := time.NewTicker(countInterval)
	defer t.Stop()
	for {
		s.count(ctx)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// countInterval is how often countLoop refreshes the console's gauges.
const countInterval = 15 * time.Second

func (s *Server) count(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, etcdTimeout)
	defer cancel()
	resp, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(s.keys.Prefix+"agent/", clientv3.WithPrefix(), clientv3.WithCountOnly()),
		clientv3.OpGet(s.keys.AllJobs(), clientv3.WithPrefix(), clientv3.WithCountOnly()),
	).Commit()
	if err != nil {
		return
	}
	metrics.RegisteredAgents.Set(float64(resp.Responses[0].GetResponseRange().Count))
	metrics.ConfiguredJobs.Set(float64(resp.Responses[1].GetResponseRange().Count))
}

// Fleet reads every agent, with its registration, liveness and last
// status, and every job key, at one etcd revision: what GET /api/agents
// and /api/jobs show, for `brun status`.
func Fleet(ctx context.Context, cli *clientv3.Client, keys etcdx.Keys) ([]Agent, []Job, error) {
	s, err := read(ctx, cli, keys)
	if err != nil {
		return nil, nil, err
	}
	return s.agents(), s.jobsOf(""), nil
}
