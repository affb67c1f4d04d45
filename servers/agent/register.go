package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// leaseTTL is how long an agent's registration outlives the agent.
const leaseTTL = 10 // seconds

// Registration is the value of <prefix>agent/<id>.
type Registration struct {
	ID        string    `json:"id"`
	Hostname  string    `json:"hostname"`
	IP        string    `json:"ip"`
	Version   string    `json:"version"`
	PID       int       `json:"pid"`
	Roles     []string  `json:"roles"`
	StartedAt time.Time `json:"started_at"`
}

// register keeps key = reg bound to a live lease until ctx ends. When the
// lease is lost (etcd restarted, network cut) it registers again.
func register(ctx context.Context, cli *clientv3.Client, key string, reg Registration, log *logrus.Entry) {
	value, _ := json.Marshal(reg)
	backoff := time.Second
	var lastErr string
	for ctx.Err() == nil {
		err := registerOnce(ctx, cli, key, string(value), log)
		if ctx.Err() != nil {
			return
		}
		if err != nil && err.Error() != lastErr {
			log.Warnf("etcd.endpoints: can't register %s, retrying: %v", key, err)
			lastErr = err.Error()
		}
		if err == nil {
			backoff = time.Second
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// registerOnce holds one lease session; it returns when the session ends.
func registerOnce(ctx context.Context, cli *clientv3.Client, key, value string, log *logrus.Entry) error {
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(leaseTTL), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	defer sess.Close() // revokes the lease: the registration disappears at once on shutdown
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = cli.Put(pctx, key, value, clientv3.WithLease(sess.Lease()))
	cancel()
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	log.Infof("registered as %s (lease %x, ttl %ds)", key, sess.Lease(), leaseTTL)
	select {
	case <-sess.Done():
		log.Warnf("lease of %s lost; registering again", key)
		return nil
	case <-ctx.Done():
		return nil
	}
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}
