package etcdx

import (
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"brun/base/config"
)

// Keys builds brun's etcd keys under one prefix.
type Keys struct {
	Prefix string // ends with "/"
}

// JobsOf is the prefix under which the jobs of one agent live.
func (k Keys) JobsOf(agentID string) string { return k.Prefix + "job/" + agentID + "/" }

// AllJobs is the prefix under which every agent's jobs live.
func (k Keys) AllJobs() string { return k.Prefix + "job/" }

// Job is the key of one job.
func (k Keys) Job(agentID, name string) string { return k.JobsOf(agentID) + name }

// Agent is the registration key of one agent.
func (k Keys) Agent(agentID string) string { return k.Prefix + "agent/" + agentID }

// Status is the status key of one agent.
func (k Keys) Status(agentID string) string { return k.Prefix + "status/" + agentID }

// ParseJob splits a job key into agent id and job name. ok is false for a
// key that is not of the form <prefix>job/<agent>/<name>.
func (k Keys) ParseJob(key string) (agentID, name string, ok bool) {
	rest, found := strings.CutPrefix(key, k.AllJobs())
	if !found {
		return "", "", false
	}
	agentID, name, found = strings.Cut(rest, "/")
	if !found || agentID == "" || name == "" {
		return "", "", false
	}
	return agentID, name, true
}

// New returns a client for the configured endpoints, speaking TLS when
// etcd.tls says so (CA, client certificate and key) and authenticating
// with etcd.username/password when both are set. A TLS file that can't be
// read is an error naming its etcd.tls key.
//
// Without a username, like clientv3.New, it does not wait for a
// connection: a down etcd shows up as errors of the first calls, which
// callers retry. With one, clientv3.New fetches the auth token at once
// (waiting up to etcd.dialTimeout), so a wrong password, or an etcd that
// is down at that moment, is an error here naming etcd.username. Later
// token expiry is handled by the client, which authenticates again.
func New(c config.Etcd) (*clientv3.Client, error) {
	tlsConf, err := c.TLS.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("etcd.%w", err)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            c.Endpoints,
		DialTimeout:          c.DialTimeout,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		Username:             c.Username,
		Password:             c.Password,
		TLS:                  tlsConf,
		// etcd's client logs through zap at info by default; brun's own logs say
		// what matters.
		Logger: zap.NewNop(),
	})
	if err != nil {
		if c.Username != "" {
			return nil, fmt.Errorf("etcd client %v as etcd.username %q: %w", c.Endpoints, c.Username, err)
		}
		return nil, fmt.Errorf("etcd client %v: %w", c.Endpoints, err)
	}
	return cli, nil
}
