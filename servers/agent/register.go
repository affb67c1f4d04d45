package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"brun/base/retry"
	"brun/servers/status"
)

// leaseTTL is how long an agent's registration outlives an agent that
// ends without revoking it (kill -9, a host cut off).
const leaseTTL = 10 // seconds

// revokeTimeout bounds the revoke at stop: with etcd unreachable the key
// expires by itself within leaseTTL.
const revokeTimeout = 2 * time.Second

// registrar keeps the agent's key bound to a live lease. When the lease is
// lost (etcd restarted, network cut) it registers again by itself.
type registrar struct {
	cli   *clientv3.Client
	key   string
	value status.Registration
	log   *logrus.Entry
	lease atomic.Int64 // current lease id; 0 while not registered
}

// Lease returns the current lease, 0 while the agent is not registered.
// The status key is written under it, so it disappears with the agent.
func (r *registrar) Lease() clientv3.LeaseID { return clientv3.LeaseID(r.lease.Load()) }

func (r *registrar) run(ctx context.Context) {
	value, _ := json.Marshal(r.value)
	backoff := retry.Backoff{Min: time.Second, Max: 10 * time.Second}
	var quiet retry.Quiet
	for ctx.Err() == nil {
		err := r.once(ctx, string(value))
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			// A session held until its lease was lost: register again
			// soon, starting the backoff over.
			backoff.Reset()
			quiet.Recovered()
		} else if say, _ := quiet.Failed(err); say {
			r.log.Warnf("etcd.endpoints: can't register %s, retrying: %v", r.key, err)
		}
		if !backoff.Wait(ctx) {
			return
		}
	}
}

// once holds one lease session; it returns when the session ends. When
// ctx ends (brun stops) it revokes the lease, so the registration and the
// status key disappear at once instead of a lease TTL later.
func (r *registrar) once(ctx context.Context, value string) error {
	sess, err := concurrency.NewSession(r.cli, concurrency.WithTTL(leaseTTL), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	defer func() {
		r.lease.Store(0)
		// The session's own Close revokes with ctx, which has ended by now:
		// revoke with a context of its own, bounded.
		sess.Orphan()
		rctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
		defer cancel()
		if _, err := r.cli.Revoke(rctx, sess.Lease()); err != nil && ctx.Err() != nil {
			r.log.Warnf("revoking the lease of %s: %v (the key expires within %ds)", r.key, err, leaseTTL)
		}
	}()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = r.cli.Put(pctx, r.key, value, clientv3.WithLease(sess.Lease()))
	cancel()
	if err != nil {
		return fmt.Errorf("put %s: %w", r.key, err)
	}
	r.lease.Store(int64(sess.Lease()))
	r.log.Infof("registered as %s (lease %x, ttl %ds)", r.key, sess.Lease(), leaseTTL)
	select {
	case <-sess.Done():
		if ctx.Err() != nil {
			return nil // the session ended because brun stops: nothing was lost
		}
		r.log.Warnf("lease of %s lost; registering again", r.key)
		return nil
	case <-ctx.Done():
		return nil
	}
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}
