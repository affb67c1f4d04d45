// Command brun is the log pipeline: one binary that runs the agent
// (files → Kafka), the transfer (Kafka → Elasticsearch) and the console
// (HTTP API), any or all of them, as [brun] roles says.
//
//	brun [-c conf/brun.ini]   run the configured roles until SIGINT/SIGTERM
//	brun version              print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"

	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/config"
	"brun/base/etcdx"
	"brun/base/logging"
	"brun/base/version"
	"brun/servers/agent"
	"brun/servers/console"
	"brun/servers/transfer"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("brun", flag.ContinueOnError)
	path := fs.String("c", "conf/brun.ini", "configuration `file`")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to `file` until brun stops")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: brun [-c FILE]   run the roles the file configures\n       brun version      print the version\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch fs.Arg(0) {
	case "":
	case "version":
		fmt.Println("brun", version.Version)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "brun: unknown command %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "brun: -cpuprofile: %v\n", err)
			return 2
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "brun: %v\n", err)
		return 2
	}
	closer, err := logging.Setup(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "brun: %v\n", err)
		return 2
	}
	defer closer.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second signal while stopping gracefully means "now".
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, syscall.SIGINT, syscall.SIGTERM)
		<-again
		logrus.Warn("second signal: exiting without waiting")
		os.Exit(1)
	}()

	if err := runRoles(ctx, cfg); err != nil {
		logrus.Error(err)
		fmt.Fprintf(os.Stderr, "brun: %v\n", err)
		return 1
	}
	return 0
}

// runRoles starts every configured role and waits for all of them. When
// one fails, the others are stopped.
func runRoles(parent context.Context, cfg *config.Config) error {
	log := logging.For("main")
	log.WithField("roles", cfg.Brun.Roles).Infof("brun %s starting with %s", version.Version, cfg.Path)
	cli, err := etcdx.New(cfg.Etcd)
	if err != nil {
		return err
	}
	defer cli.Close()

	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	roles := map[string]func(context.Context, *config.Config, *clientv3.Client) error{
		config.RoleAgent:    agent.Run,
		config.RoleTransfer: transfer.Run,
		config.RoleConsole:  console.Run,
	}
	var wg sync.WaitGroup
	if !cfg.HasRole(config.RoleConsole) {
		// Without the console, /metrics, /healthz and /readyz get their own
		// listener. A busy port is logged, not fatal: shipping logs matters
		// more than being scraped.
		ops := make(chan struct{})
		go func() {
			defer close(ops)
			if err := console.ServeOps(ctx, cfg, cli); err != nil {
				log.Warn(err)
			}
		}()
		defer func() { cancel(); <-ops }()
	}
	errs := make([]error, len(cfg.Brun.Roles))
	for i, name := range cfg.Brun.Roles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := roles[name](ctx, cfg, cli); err != nil {
				errs[i] = fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	log.Info("brun stopped")
	return errors.Join(errs...)
}
