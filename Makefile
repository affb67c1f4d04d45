# brun: run `make help` for the targets.
SHELL   := /bin/bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The commit and its time, for `brun version`: Go stamps them itself into
# a plain `go build`, but not in a git worktree, nor with -buildvcs=false.
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null)
COMMIT_TIME ?= $(shell TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null)
LDFLAGS := -s -w -X brun/base/version.Version=$(VERSION) \
	-X brun/base/version.Commit=$(COMMIT) -X brun/base/version.CommitTime=$(COMMIT_TIME)
# BIN: where `make build` puts the binary.
BIN     ?= bin/brun
STACK   := bash .ci/stack.sh
CLUSTER := bash .ci/cluster.sh
GO      ?= go

.PHONY: help build run test unit integration stack-up stack-down stack-status cluster-up cluster-down cluster-status test-cluster vet clean bench-transfer bench bench-agent bench-local fuzz dist fleet

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build bin/brun
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./brun

# run: as shipped, conf/brun.ini needs no server (embedded etcd, in-process
# hand-off, local files); CONF=conf/stack.ini runs against `make stack-up`.
CONF ?= conf/brun.ini
run: build ## build and run bin/brun -c conf/brun.ini (CONF=conf/stack.ini: the stack-up servers)
	$(BIN) -c $(CONF)

# dist: for each of DIST_ARCHES, a static linux binary, a .tar.gz (the
# binary, conf/production.ini as brun.ini, the unit, the README) and a .deb
# and an .rpm (conf/nfpm.yaml, run in a directory of the files it packs)
# under DIST. nfpm runs as a Go tool at a fixed version, so go.mod does not
# carry it. A package version must start with a digit: the tag without its
# "v" when HEAD is tagged vX.Y.Z, else 0.0.0~git<commit time>.<commit>,
# which sorts by time.
DIST        ?= dist
DIST_ARCHES ?= amd64 arm64
NFPM        ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
PKG_VERSION ?= $(shell t=$$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null) && echo $$t | sed 's/^v//; s/-/~/g' || \
	TZ=UTC git log -1 --date=format-local:%Y%m%d%H%M%S --format=0.0.0~git%cd.%h 2>/dev/null || echo 0.0.0~dev)
dist: ## linux amd64 and arm64: binaries, .tar.gz, .deb and .rpm under dist/
	@set -e; rm -rf $(DIST)/linux_* $(DIST)/brun[_-]* $(DIST)/tar $(DIST)/pkg; for arch in $(DIST_ARCHES); do \
		echo "== linux/$$arch $(PKG_VERSION)"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/linux_$$arch/brun ./brun; \
		name=brun_$(PKG_VERSION)_linux_$$arch; tree=$(DIST)/tar/$$name; \
		mkdir -p $$tree; \
		cp $(DIST)/linux_$$arch/brun $$tree/brun; \
		cp conf/production.ini $$tree/brun.ini; \
		cp conf/brun.service README.md $$tree/; \
		tar -C $(DIST)/tar --owner=0 --group=0 --numeric-owner -czf $(DIST)/$$name.tar.gz $$name; \
		pkg=$(DIST)/pkg/$$arch; mkdir -p $$pkg; cp -r $$tree/. conf/package $$pkg/; \
		cp conf/brun.ini $$pkg/brun.ini.example; \
		for fmt in deb rpm; do \
			(cd $$pkg && ARCH=$$arch PKG_VERSION='$(PKG_VERSION)' $(NFPM) pkg -f $(CURDIR)/conf/nfpm.yaml -p $$fmt -t $(abspath $(DIST))/); \
		done; \
	done; rm -rf $(DIST)/tar $(DIST)/pkg; ls -l $(DIST)

vet: ## go vet and gofmt check
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

unit: ## unit tests only (no servers)
	$(GO) test -race -count=1 ./...

# test: unit and integration tests. Starts the servers that are not running
# (installing them on first use) and stops afterwards exactly those it started.
# Packages run one at a time (-p 1): some tests stop or pause a shared server.
test: vet build ## unit + integration tests against real etcd, Kafka, Elasticsearch
	@started=$$(mktemp); \
	$(STACK) up --started-file $$started || { $(STACK) down --started-file $$started; exit 1; }; \
	BRUN_INTEGRATION=1 BRUN_BIN=$(CURDIR)/bin/brun $(GO) test -race -count=1 -p 1 -timeout 60m ./... ; rc=$$?; \
	$(STACK) down --started-file $$started; exit $$rc

# fuzz: each fuzz target in turn, FUZZTIME each (make fuzz FUZZTIME=10m);
# the parsers of what others control: the ini file, job values, log files,
# Kafka records, log lines (doc/fuzzing.md). An input that fails is kept in
# the package's testdata/fuzz/<target>/, where `go test` runs it again.
FUZZTIME ?= 30s
FUZZ_TARGETS := ./base/config:FuzzLoad ./base/config:FuzzParseDuration \
	./servers/job:FuzzParse ./servers/job:FuzzValidName \
	./servers/collector:FuzzLineReader ./servers/collector:FuzzDecode ./servers/collector:FuzzMultiline \
	./servers/transfer:FuzzParseRecord ./servers/transfer:FuzzBuild ./servers/enrich:FuzzTime ./servers/enrich:FuzzLayout
fuzz: ## run every fuzz target for FUZZTIME (default 30s) each
	@failed=; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || failed="$$failed $$name"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed (inputs in testdata/fuzz/)"; exit 1; fi

# bench-agent: a real agent process ships a 1,000,000- and a 5,000,000-line
# file to the local Kafka; reports lines/s, CPU-seconds per million lines and
# peak RSS. kcat (installed with Kafka by .ci/stack.sh) ships the
# 1,000,000-line file too, and brun's figures are also given as multiples of
# kcat's; BenchmarkKgoAlone gives the Kafka client's own ceiling
# (doc/benchmarks.md).
bench-agent: build ## agent benchmark: files to the local Kafka
	@started=$$(mktemp); \
	$(STACK) up --started-file $$started || { $(STACK) down --started-file $$started; exit 1; }; \
	BRUN_INTEGRATION=1 BRUN_BIN=$(CURDIR)/bin/brun $(GO) test -run '^$$' -bench 'AgentToKafka|KgoAlone|IdleFiles' -benchtime 1x -timeout 30m ./servers/agent ./servers/collector ; rc=$$?; \
	$(STACK) down --started-file $$started; exit $$rc

bench: bench-agent bench-transfer bench-local ## every benchmark

# bench-local: one brun with no server (embedded etcd, in-process hand-off,
# local files) ships a 1,000,000-line file; needs only etcdctl.
bench-local: build ## local mode: a file to the local document files
	$(STACK) install etcd
	BRUN_INTEGRATION=1 BRUN_BIN=$(CURDIR)/bin/brun $(GO) test -run '^$$' -bench LocalMode -benchtime 1x -timeout 20m ./brun

# bench-transfer: the transfer (bin/brun) against a plain bulk loader, same
# Elasticsearch, same run; 1,000,000 documents (BRUN_BENCH_DOCS to change).
bench-transfer: build ## transfer docs/s and CPU beside a plain bulk loader
	@started=$$(mktemp); \
	$(STACK) up --started-file $$started || { $(STACK) down --started-file $$started; exit 1; }; \
	set -o pipefail; BRUN_INTEGRATION=1 BRUN_BIN=$(CURDIR)/bin/brun $(GO) test -run '^$$' -bench TransferVsBulkLoader -benchtime 1x -timeout 20m -v ./servers/transfer/ 2>&1 | { grep -v 'level=' || true; }; rc=$$?; \
	$(STACK) down --started-file $$started; exit $$rc

# fleet: the fleet simulation (doc/scale.md). FLEET_N agents (each size in
# turn) play the agent's own registration, status reports and job watch,
# without files or Kafka, against the 3-member etcd at FLEET_ETCD (`make
# cluster-up`); prints one table: registration, watch latency, etcd's
# database, memory and CPU, the console's /api/agents.
FLEET_N    ?= 100,1000
FLEET_ETCD ?= 127.0.0.1:23379,127.0.0.1:23479,127.0.0.1:23579
fleet: ## fleet simulation: FLEET_N agents (default 100,1000) against the 3-member etcd
	BRUN_FLEET=1 BRUN_FLEET_N=$(FLEET_N) BRUN_FLEET_ETCD=$(FLEET_ETCD) \
		$(GO) test -count=1 -run '^TestFleetSimulation$$' -v -timeout 90m ./servers/agent

stack-up: ## install (once) and start etcd, Kafka, Elasticsearch on 127.0.0.1
	$(STACK) up

stack-down: ## stop the servers stack-up started
	$(STACK) down

stack-status: ## show the servers' state and log files
	$(STACK) status

# cluster-*: 3 etcd members, 3 Kafka nodes (KRaft, RF 3, min ISR 2) and one
# Elasticsearch on 127.0.0.1, on ports of their own beside the stack's, for the
# multi-node tests; .ci/cluster.sh also kills and restarts single members and
# finds leaders (doc/cluster.md).
cluster-up: ## install (once) and start a 3-node etcd, 3-node Kafka and Elasticsearch on 127.0.0.1
	$(CLUSTER) up

cluster-down: ## stop the members cluster-up started
	$(CLUSTER) down

cluster-status: ## show each cluster member's state, memory and log file
	$(CLUSTER) status

# test-cluster: the fault scenarios of brun/cluster_test.go and
# brun/cluster_hosts_test.go (a Kafka partition leader, a transfer, the
# etcd leader, Elasticsearch killed mid-stream; an agent's host cut off for
# a minute; Elasticsearch stopped for a minute with all of those at once),
# three agents on hosts of their own (network namespaces, as root), against
# the cluster, which it starts when it is not running and stops afterwards
# only as far as it started it. Scenarios one at a time: each kills members.
test-cluster: build ## fault scenarios against the cluster (3 etcd, 3 Kafka, 3 agents, 2 transfers)
	@started=$$(mktemp); \
	$(CLUSTER) up --started-file $$started || { $(CLUSTER) down --started-file $$started; exit 1; }; \
	BRUN_CLUSTER=1 BRUN_INTEGRATION=1 BRUN_BIN=$(CURDIR)/bin/brun $(GO) test -race -count=1 -p 1 -v -run '^TestCluster' -timeout 30m ./brun ; rc=$$?; \
	$(CLUSTER) down --started-file $$started; exit $$rc

clean: ## remove build output and local state
	rm -rf bin data logs dist
