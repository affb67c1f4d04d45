package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/servers/job"
)

// maxJobBytes bounds a PUT body and what one stored value adds to an
// answer: the validator's bound of a job value (a job is a few hundred
// bytes).
const maxJobBytes = job.MaxValueBytes

// listAgents answers GET /api/agents: every agent that is registered or
// has jobs, with its last status.
func (s *Server) listAgents(w http.ResponseWriter, r *http.Request) {
	snap, err := read(r.Context(), s.cli, s.keys)
	if err != nil {
		writeError(w, http.StatusBadGateway, "etcd: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, snap.agents())
}

// listJobs answers GET /api/jobs (every agent) and GET
// /api/agents/{agent}/jobs (one agent; an agent without jobs has []).
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	agent := r.PathValue("agent")
	if r.Pattern != "GET /api/jobs" {
		if err := checkSegment("agent", agent); err != nil {
			writeJSON(w, http.StatusBadRequest, err)
			return
		}
	}
	snap, err := read(r.Context(), s.cli, s.keys)
	if err != nil {
		writeError(w, http.StatusBadGateway, "etcd: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, snap.jobsOf(agent))
}

// getJob answers GET /api/agents/{agent}/jobs/{name}: the job with its
// revision in the body and in the ETag header; 404 when there is none.
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	agent, name, ok := s.segments(w, r)
	if !ok {
		return
	}
	snap, err := read(r.Context(), s.cli, s.keys)
	if err != nil {
		writeError(w, http.StatusBadGateway, "etcd: %v", err)
		return
	}
	for _, j := range snap.jobsOf(agent) {
		if j.Name == name {
			w.Header().Set("ETag", etag(j.Revision))
			writeJSON(w, http.StatusOK, j)
			return
		}
	}
	writeError(w, http.StatusNotFound, "no job %s", s.keys.Job(agent, name))
}

// putJob answers PUT /api/agents/{agent}/jobs/{name}: it validates the
// body with job.Parse (the agent's own validator) and writes it, compacted,
// to <prefix>job/<agent>/<name>. An invalid job is 400 with one entry per
// bad field and nothing is written. With If-Match: <revision> the write
// happens only if the key's ModRevision is still that (409 otherwise);
// If-Match: 0 (or If-None-Match: *) means "only if the job does not exist".
// The answer is 201 (created) or 200 (replaced) with the job and its new
// revision, also in the ETag header.
func (s *Server) putJob(w http.ResponseWriter, r *http.Request) {
	agent, name, ok := s.segments(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJobBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "job body: over %d bytes; a job value is at most 64 KiB", maxJobBytes)
			return
		}
		writeError(w, http.StatusBadRequest, "job body: %v", err)
		return
	}
	if _, err := job.Parse(body); err != nil {
		var je *job.Error
		if !errors.As(err, &je) {
			writeError(w, http.StatusBadRequest, "%v", err)
			return
		}
		out := apiError{Error: "invalid job " + s.keys.Job(agent, name)}
		for _, f := range je.Fields {
			out.Fields = append(out.Fields, fieldError{Field: f.Field, Reason: f.Reason})
		}
		writeJSON(w, http.StatusBadRequest, out)
		return
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil { // Parse accepted it: can't happen
		writeError(w, http.StatusBadRequest, "job body: %v", err)
		return
	}
	value := compact.String()
	rev, conditional, bad := ifMatch(r)
	if bad != "" {
		writeError(w, http.StatusBadRequest, "%s", bad)
		return
	}

	key := s.keys.Job(agent, name)
	ctx, cancel := context.WithTimeout(r.Context(), etcdTimeout)
	defer cancel()
	txn := s.cli.Txn(ctx)
	if conditional {
		txn = txn.If(clientv3.Compare(clientv3.ModRevision(key), "=", rev))
	}
	resp, err := txn.Then(clientv3.OpPut(key, value, clientv3.WithPrevKV())).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		writeError(w, http.StatusBadGateway, "etcd: put %s: %v", key, err)
		return
	}
	if !resp.Succeeded {
		s.conflict(w, key, rev, resp.Responses[0].GetResponseRange().Kvs)
		return
	}
	prev := resp.Responses[0].GetResponsePut().PrevKv
	old := ""
	status := http.StatusCreated
	if prev != nil {
		old, status = string(prev.Value), http.StatusOK
	}
	s.changed(r, "put", key, old, value, resp.Header.Revision)
	j := Job{Agent: agent, Name: name, Key: key, Revision: resp.Header.Revision}
	setValue(&j, []byte(value))
	w.Header().Set("ETag", etag(j.Revision))
	writeJSON(w, status, j)
}

// deleteJob answers DELETE /api/agents/{agent}/jobs/{name}: see remove.
func (s *Server) deleteJob(w http.ResponseWriter, r *http.Request) {
	agent, name, ok := s.segments(w, r)
	if !ok {
		return
	}
	s.remove(w, r, s.keys.Job(agent, name))
}

// deleteKey answers DELETE /api/jobs?key=<key>: it deletes any key under
// <prefix>job/, including those that are no job (job/<agent>/,
// job/<agent>/a/b, a name with spaces), which no path of the API can
// name. Any other key is 400: the console writes jobs only.
func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	if !strings.HasPrefix(key, s.keys.AllJobs()) {
		reason := "is required (the full key, as GET /api/jobs lists it)"
		if key != "" {
			reason = fmt.Sprintf("%.300q is not under %s: the console deletes job keys only", key, s.keys.AllJobs())
		}
		writeJSON(w, http.StatusBadRequest, apiError{Error: "bad key", Fields: []fieldError{{Field: "key", Reason: reason}}})
		return
	}
	s.remove(w, r, key)
}

// remove deletes key: 404 when it does not exist, 409 when If-Match names
// a revision it no longer has, else 200 with the deleted key and etcd's
// new revision. The change is logged.
func (s *Server) remove(w http.ResponseWriter, r *http.Request, key string) {
	rev, conditional, bad := ifMatch(r)
	if bad != "" {
		writeError(w, http.StatusBadRequest, "%s", bad)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), etcdTimeout)
	defer cancel()
	txn := s.cli.Txn(ctx)
	if conditional {
		txn = txn.If(clientv3.Compare(clientv3.ModRevision(key), "=", rev))
	}
	resp, err := txn.Then(clientv3.OpDelete(key, clientv3.WithPrevKV())).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		writeError(w, http.StatusBadGateway, "etcd: delete %s: %v", key, err)
		return
	}
	if !resp.Succeeded {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			writeError(w, http.StatusNotFound, "no job %s", key)
			return
		}
		s.conflict(w, key, rev, kvs)
		return
	}
	del := resp.Responses[0].GetResponseDeleteRange()
	if del.Deleted == 0 {
		writeError(w, http.StatusNotFound, "no job %s", key)
		return
	}
	s.changed(r, "delete", key, string(del.PrevKvs[0].Value), "", resp.Header.Revision)
	writeJSON(w, http.StatusOK, map[string]any{"deleted": key, "revision": resp.Header.Revision})
}

// conflict answers 409: the job is not at the revision the client edited.
// The body carries the current revision and value (none: deleted since).
func (s *Server) conflict(w http.ResponseWriter, key string, want int64, kvs []*mvccpb.KeyValue) {
	out := apiError{Error: fmt.Sprintf("%s changed since revision %d: reload it and edit again", key, want)}
	if want == 0 {
		out.Error = key + " already exists: reload it and edit it instead"
	}
	if len(kvs) > 0 {
		out.Revision = kvs[0].ModRevision
		if len(kvs[0].Value) <= maxJobBytes && json.Valid(kvs[0].Value) {
			out.Current = kvs[0].Value
		}
		w.Header().Set("ETag", etag(out.Revision))
	} else {
		out.Error = fmt.Sprintf("%s was deleted since revision %d", key, want)
	}
	writeJSON(w, http.StatusConflict, out)
}

// changed logs one change of a job: who (the client's address), which key,
// the old and the new value ("" for none) and the revision it made.
func (s *Server) changed(r *http.Request, op, key, old, new string, rev int64) {
	s.log.WithFields(logrus.Fields{
		"client": r.RemoteAddr, "op": op, "key": key, "old": old, "new": new, "revision": rev,
	}).Infof("job %s: %s by %s", op, key, r.RemoteAddr)
}

// segments returns the {agent} and {name} path values, answering 400 when
// agent can't be an etcd key segment or name is no job name (the agent
// would refuse to run it; a key that holds one already is reached with
// DELETE /api/jobs?key=).
func (s *Server) segments(w http.ResponseWriter, r *http.Request) (agent, name string, ok bool) {
	agent, name = r.PathValue("agent"), r.PathValue("name")
	if err := checkSegment("agent", agent); err != nil {
		writeJSON(w, http.StatusBadRequest, err)
		return "", "", false
	}
	if reason := job.NameError(name); reason != "" {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "bad name", Fields: []fieldError{{Field: "name", Reason: reason}}})
		return "", "", false
	}
	return agent, name, true
}

// checkSegment returns a 400 body when v can't be one segment of a job key:
// empty, too long, or containing '/', whitespace or control characters.
func checkSegment(field, v string) *apiError {
	reason := ""
	switch {
	case v == "":
		reason = "is required"
	case len(v) > 253:
		reason = "is longer than 253 bytes"
	case strings.ContainsFunc(v, func(c rune) bool { return c == '/' || c <= ' ' || c == 0x7f }):
		reason = fmt.Sprintf("%q must not contain '/', spaces or control characters", v)
	default:
		return nil
	}
	return &apiError{Error: "bad " + field, Fields: []fieldError{{Field: field, Reason: reason}}}
}

// ifMatch reads If-Match (a revision, quoted like an ETag or bare) and
// If-None-Match: * (the same as revision 0: the job must not exist).
// conditional is false when neither is set; bad describes a malformed one.
func ifMatch(r *http.Request) (rev int64, conditional bool, bad string) {
	if r.Header.Get("If-None-Match") == "*" {
		return 0, true, ""
	}
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return 0, false, ""
	}
	n, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
	if err != nil || n < 0 {
		return 0, false, fmt.Sprintf("If-Match: %q is not a revision (the job's \"revision\" or ETag)", h)
	}
	return n, true, ""
}

// etag formats a revision as an ETag header value.
func etag(rev int64) string { return `"` + strconv.FormatInt(rev, 10) + `"` }
