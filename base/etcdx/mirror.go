package etcdx

import (
	"context"
	"errors"
	"time"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/retry"
)

// foldWindow is how long Mirror waits for more events after one arrives,
// so that a burst of edits leads to one call of onChange.
const foldWindow = 100 * time.Millisecond

// Mirror keeps a copy of every key under prefix and calls onChange with the
// whole copy (key → value) after the first list and after each burst of
// changes. It lists, then watches from the next revision; when the watch is
// compacted or breaks, it lists again. While etcd is unreachable it retries
// and onChange is not called. It returns when ctx ends. onChange runs on
// Mirror's goroutine and must not keep the map.
func Mirror(ctx context.Context, cli *clientv3.Client, prefix string, timeout time.Duration, log *logrus.Entry, onChange func(map[string][]byte)) {
	backoff := retry.Backoff{Min: 500 * time.Millisecond, Max: 10 * time.Second}
	var quiet retry.Quiet
	for ctx.Err() == nil {
		state, rev, err := list(ctx, cli, prefix, timeout)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if say, _ := quiet.Failed(err); say {
				log.Warnf("etcd.endpoints: can't list %s, retrying: %v", prefix, err)
			}
			backoff.Wait(ctx)
			continue
		}
		if quiet.Recovered() {
			log.Infof("listed %s again", prefix)
		}
		backoff.Reset()
		onChange(state)
		err = watch(ctx, cli, prefix, rev+1, state, onChange)
		if ctx.Err() != nil {
			return
		}
		log.Warnf("watch of %s ended, listing again: %v", prefix, err)
		backoff.Wait(ctx)
	}
}

func list(ctx context.Context, cli *clientv3.Client, prefix string, timeout time.Duration) (map[string][]byte, int64, error) {
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := cli.Get(lctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, err
	}
	state := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		state[string(kv.Key)] = kv.Value
	}
	return state, resp.Header.Revision, nil
}

// watch applies events to state until the watch fails or ctx ends.
func watch(ctx context.Context, cli *clientv3.Client, prefix string, rev int64, state map[string][]byte, onChange func(map[string][]byte)) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev))
	for {
		resp, ok := <-wch
		if !ok {
			return errors.New("watch channel closed")
		}
		if err := resp.Err(); err != nil {
			// Compacted (rpctypes.ErrCompacted) or broken: the caller lists
			// again, which is the only way to catch up on what was missed.
			return err
		}
		apply(state, resp)
		// Fold a burst of events into one change.
		timer := time.NewTimer(foldWindow)
	fold:
		for {
			select {
			case more, ok := <-wch:
				if !ok {
					timer.Stop()
					onChange(state)
					return errors.New("watch channel closed")
				}
				if err := more.Err(); err != nil {
					timer.Stop()
					onChange(state)
					return err
				}
				apply(state, more)
			case <-timer.C:
				break fold
			}
		}
		onChange(state)
	}
}

func apply(state map[string][]byte, resp clientv3.WatchResponse) {
	for _, ev := range resp.Events {
		k := string(ev.Kv.Key)
		if ev.Type == clientv3.EventTypeDelete {
			delete(state, k)
		} else {
			state[k] = ev.Kv.Value
		}
	}
}
