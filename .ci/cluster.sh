#!/usr/bin/env bash
# .ci/cluster.sh - a small cluster on 127.0.0.1 for brun's multi-node tests:
# three etcd members, three Kafka brokers and one Elasticsearch node, beside
# the servers of .ci/stack.sh, on ports and in directories of their own. The
# servers come from the same installs as stack.sh's (its installers, its cache).
#
# Members, each on 127.0.0.1 only:
#   etcd-1 etcd-2 etcd-3     etcd 3.4 (Debian's etcd-server), one cluster of 3
#                            client 23379 23479 23579, peer 23380 23480 23580
#   kafka-1 kafka-2 kafka-3  Apache Kafka 4.1.1 in KRaft mode, each node both
#                            broker and controller (3 controller voters)
#                            broker 29092 29192 29292, controller 29093 29193 29293
#                            default.replication.factor=3, min.insync.replicas=2,
#                            num.partitions=6, internal topics with RF 3 (min ISR 2)
#   es-1                     Elasticsearch 8.19.7, one node
#                            http 29200, transport 29300
# Heaps: 384 MiB for each Kafka node, 512 MiB for Elasticsearch.
#
# Usage (NAME: a member above, or etcd, kafka, es for all members of one
# server; without NAME: every member):
#   .ci/cluster.sh up     [--started-file FILE] [NAME...]
#                          Install what is missing (stack.sh's installers, into
#                          the same cache), start the members that do not answer
#                          on their port yet, wait until each is healthy, then
#                          until the cluster is whole: every running etcd member
#                          serves quorum reads and a leader is elected; every
#                          running Kafka node is registered as a broker. Prints
#                          "started NAME" or "already running NAME" per member.
#                          With --started-file (or BRUN_CLUSTER_STARTED_FILE) the
#                          members this call started are appended to FILE.
#   .ci/cluster.sh down   [--started-file FILE] [NAME...]
#                          Stop the members this script started (found by their
#                          pid files), all at once: SIGTERM, wait up to 30 s,
#                          then SIGKILL. With --started-file, the members listed
#                          in FILE (which is then removed). Prints "stopped NAME"
#                          or "not running NAME" per member.
#   .ci/cluster.sh status  Each member: running or not, healthy or not, pid, RSS,
#                          ports, log; the etcd leader and the registered brokers.
#   .ci/cluster.sh start NAME...   Start members again (after kill or stop) and
#                          wait as `up` does (`up NAME...` without the install).
#   .ci/cluster.sh stop NAME...    Stop members gracefully (as `down NAME...`).
#                          Kafka nodes run without controlled shutdown (see
#                          start_member_kafka): a stopped node's partitions get
#                          new leaders once its session expires (9 s).
#   .ci/cluster.sh kill NAME...    SIGKILL each member's whole process group at
#                          once: a crash, no shutdown. Its data stays; `start
#                          NAME` brings it back. Prints "killed NAME".
#   .ci/cluster.sh pid NAME        The pid of a running member (also its process
#                          group id: `kill -STOP -- -PID` pauses all of it).
#   .ci/cluster.sh etcd-leader     The member that is etcd leader now (etcd-2).
#   .ci/cluster.sh kafka-leader TOPIC [PARTITION]
#                          The member leading that partition of TOPIC (kafka-3);
#                          without PARTITION, "PARTITION MEMBER" for each one.
#                          Exits 1 if the partition has no leader.
#   .ci/cluster.sh endpoints       The cluster's addresses, as shell assignments
#                          (eval "$(.ci/cluster.sh endpoints)"):
#                          CLUSTER_ETCD_ENDPOINTS, CLUSTER_KAFKA_ENDPOINTS,
#                          CLUSTER_ES_ENDPOINTS (comma lists, as brun's ini takes).
#   .ci/cluster.sh install         Install only, start nothing.
#   .ci/cluster.sh clean           Remove the cluster's data (refused while a
#                          member runs): the next `up` starts an empty cluster.
#                          Needed when one member's data is lost and the others'
#                          is not: etcd and Kafka do not take back such a member.
#
# Files, beside stack.sh's in the cache:
#   ${BRUN_CACHE:-$HOME/.cache/brun}/
#     dist/                   the installed servers, shared with stack.sh
#     logs/install-*.log      output of the downloads, shared with stack.sh
#     cluster/conf/<member>/  config files, rewritten on every start
#     cluster/data/<member>/  each member's data (kept between runs)
#     cluster/logs/<member>.log  each member's output (the previous run's: .log.1)
#     cluster/run/<member>.pid   pid of each member this script started
#
# Environment:
#   BRUN_CACHE                  cache directory (default $HOME/.cache/brun)
#   BRUN_CLUSTER_TIMEOUT        seconds to wait for the members to get healthy (300)
#   BRUN_CLUSTER_STARTED_FILE   same as --started-file
#   BRUN_CLUSTER_KAFKA_HEAP     heap of each Kafka node (384m)
#   BRUN_CLUSTER_ES_HEAP        heap of Elasticsearch (512m)
#   BRUN_ES_USER                user Elasticsearch runs as when we are root (brun-es)
#   BRUN_CLUSTER_ETCD_PORT, BRUN_CLUSTER_KAFKA_PORT, BRUN_CLUSTER_ES_PORT
#                               client port of the first member of each (23379,
#                               29092, 29200); the others follow as above
set -euo pipefail

# stack.sh's settings, helpers (say, fail, launch, our_pid, ...) and installers;
# sourcing it runs nothing.
# shellcheck source=.ci/stack.sh
source "$(dirname "${BASH_SOURCE[0]}")/stack.sh"
ME=cluster

# ---------------------------------------------------------------- settings ---

ETCD_MEMBERS=(etcd-1 etcd-2 etcd-3)
KAFKA_MEMBERS=(kafka-1 kafka-2 kafka-3)
ES_MEMBERS=(es-1)
ALL_MEMBERS=("${ETCD_MEMBERS[@]}" "${KAFKA_MEMBERS[@]}" "${ES_MEMBERS[@]}")

# Member N (1, 2, 3) listens on the base port + 100 * (N - 1); its second
# port (etcd peer, Kafka controller) is the next one, Elasticsearch's
# transport port is its http port + 100.
CLUSTER_ETCD_PORT=${BRUN_CLUSTER_ETCD_PORT:-23379}
CLUSTER_KAFKA_PORT=${BRUN_CLUSTER_KAFKA_PORT:-29092}
CLUSTER_ES_PORT=${BRUN_CLUSTER_ES_PORT:-29200}

TIMEOUT=${BRUN_CLUSTER_TIMEOUT:-300}
STARTED_FILE=${BRUN_CLUSTER_STARTED_FILE:-}
KAFKA_HEAP=${BRUN_CLUSTER_KAFKA_HEAP:-384m}
CLUSTER_ES_HEAP=${BRUN_CLUSTER_ES_HEAP:-512m}

# The installs and their logs are stack.sh's; everything else is under cluster/.
STACK_LOGS=$LOGS STACK_RUN=$RUN
CLUSTER_DIR=$CACHE/cluster
CONF=$CLUSTER_DIR/conf DATA=$CLUSTER_DIR/data LOGS=$CLUSTER_DIR/logs RUN=$CLUSTER_DIR/run
mkdir -p "$CONF" "$DATA" "$LOGS" "$RUN"

# ----------------------------------------------------------------- members ---

group_of() { echo "${1%-*}"; }   # etcd-2 -> etcd
index_of() { echo "${1##*-}"; }  # etcd-2 -> 2

# port_of MEMBER: the port clients use; all_ports_of MEMBER: every port it listens on.
# (These replace stack.sh's, which know only its own three servers.)
port_of() {
  local off=$((($(index_of "$1") - 1) * 100))
  case $(group_of "$1") in
    etcd) echo $((CLUSTER_ETCD_PORT + off)) ;;
    kafka) echo $((CLUSTER_KAFKA_PORT + off)) ;;
    es) echo $((CLUSTER_ES_PORT + off)) ;;
  esac
}
all_ports_of() {
  local off=$((($(index_of "$1") - 1) * 100))
  case $(group_of "$1") in
    etcd) echo $((CLUSTER_ETCD_PORT + off)) $((CLUSTER_ETCD_PORT + off + 1)) ;;
    kafka) echo $((CLUSTER_KAFKA_PORT + off)) $((CLUSTER_KAFKA_PORT + off + 1)) ;;
    es) echo $((CLUSTER_ES_PORT + off)) $((CLUSTER_ES_PORT + off + 100)) ;;
  esac
}

# endpoints_of GROUP: the client addresses of GROUP's members, comma separated.
endpoints_of() {
  local m list=()
  for m in "${ALL_MEMBERS[@]}"; do
    if [[ $(group_of "$m") == "$1" ]]; then
      if [[ $1 == es ]]; then list+=("http://127.0.0.1:$(port_of "$m")"); else list+=("127.0.0.1:$(port_of "$m")"); fi
    fi
  done
  local IFS=,; echo "${list[*]}"
}

# is_up MEMBER: started by us and alive, or something answers on its port.
is_up() { our_pid "$1" >/dev/null || port_open "$(port_of "$1")"; }

# up_members GROUP: the members of GROUP that run now.
up_members() {
  local m
  for m in "${ALL_MEMBERS[@]}"; do
    if [[ $(group_of "$m") == "$1" ]] && is_up "$m"; then echo "$m"; fi
  done
}

# normalise_names NAME...: check the names (members, or etcd, kafka, es,
# elasticsearch for all members of one) and set NAMES to them, without
# duplicates, in the order of ALL_MEMBERS. Replaces stack.sh's.
normalise_names() {
  local n m wanted=" "
  for n in "$@"; do
    case $n in
      elasticsearch) n=es ;;
    esac
    case " ${ALL_MEMBERS[*]} " in
      *" $n "*) wanted+="$n " ;;
      *)
        case $n in
          etcd | kafka | es) for m in "${ALL_MEMBERS[@]}"; do if [[ $(group_of "$m") == "$n" ]]; then wanted+="$m "; fi; done ;;
          *) fail "unknown member '$n' (known: ${ALL_MEMBERS[*]}, or etcd, kafka, es)" ;;
        esac
        ;;
    esac
  done
  NAMES=()
  for m in "${ALL_MEMBERS[@]}"; do
    if [[ $wanted == *" $m "* ]]; then NAMES+=("$m"); fi
  done
}

# groups_of MEMBER...: the groups these members belong to, once each, in order.
groups_of() {
  local g seen=" " m
  for m in "$@"; do
    g=$(group_of "$m")
    if [[ $seen != *" $g "* ]]; then seen+="$g "; echo "$g"; fi
  done
}

# ------------------------------------------------------------------ health ---

etcdctl_at() { # etcdctl_at PORT ARGS...
  local port=$1; shift
  ETCDCTL_API=3 timeout 10 etcdctl --endpoints="127.0.0.1:$port" --dial-timeout=2s --command-timeout=3s "$@"
}

# kafka_metadata [PORT...]: kcat's metadata listing (-L), asked of the given
# brokers (default: every cluster broker; kcat takes the first that answers).
kafka_metadata() {
  local ports=("$@") bootstrap=() p m
  ((${#ports[@]})) || read -r -a ports <<<"$(for m in "${KAFKA_MEMBERS[@]}"; do port_of "$m"; done | xargs)"
  for p in "${ports[@]}"; do bootstrap+=("127.0.0.1:$p"); done
  local IFS=,
  timeout 10 kcat -m 5 -b "${bootstrap[*]}" -L 2>/dev/null
}

# Member health: the member itself serves requests.
# etcd: a quorum read answered (so the member is in a cluster with a leader).
healthy_member_etcd() { etcdctl_at "$(port_of "$1")" endpoint health >/dev/null 2>&1; }
# Kafka: the node answers metadata and lists itself as a registered broker.
healthy_member_kafka() {
  local port; port=$(port_of "$1")
  # grep reads it all (no -q): kcat must not die of SIGPIPE under pipefail.
  kafka_metadata "$port" | grep "broker $(index_of "$1") at 127.0.0.1:$port" >/dev/null
}
healthy_member_es() {
  curl -fsS --max-time 10 \
    "http://127.0.0.1:$(port_of "$1")/_cluster/health?wait_for_status=yellow&timeout=3s" 2>/dev/null |
    grep -E '"status":"(green|yellow)"' >/dev/null
}
healthy_member() { "healthy_member_$(group_of "$1")" "$1"; }

# etcd_leader: print the first member that reports itself leader.
# `endpoint status -w simple` prints: endpoint, member id, version, db size,
# is leader, is learner, raft term, raft index, applied index, errors.
etcd_leader() {
  local m line fields
  for m in "${ETCD_MEMBERS[@]}"; do
    line=$(etcdctl_at "$(port_of "$m")" endpoint status -w simple 2>/dev/null) || continue
    IFS=, read -r -a fields <<<"$line"
    if [[ ${fields[4]// /} == true ]]; then echo "$m"; return 0; fi
  done
  return 1
}

# kafka_brokers: the broker ids registered now, sorted, one per line.
kafka_brokers() {
  kafka_metadata | sed -n 's/^ *broker \([0-9]*\) at .*/\1/p' | sort -n
}

# Group health, over the members that run: the cluster is whole.
healthy_group_etcd() {
  local m
  for m in $(up_members etcd); do healthy_member_etcd "$m" || return 1; done
  etcd_leader >/dev/null
}
healthy_group_kafka() {
  local want got
  want=$(up_members kafka | sed 's/^kafka-//' | sort -n)
  got=$(kafka_brokers)
  [[ -n $want && $want == "$got" ]]
}
healthy_group_es() { local m; for m in $(up_members es); do healthy_member_es "$m" || return 1; done; }

# group_summary GROUP: one line on how the group stands, for messages.
group_summary() {
  case $1 in
    etcd) echo "etcd: $(up_members etcd | wc -l) members up, leader $(etcd_leader || echo none)" ;;
    kafka) echo "kafka: brokers registered: $(kafka_brokers | xargs | tr ' ' ,)" ;;
    es) echo "es: $(curl -fsS --max-time 5 "http://127.0.0.1:$(port_of es-1)/_cat/health?h=status" 2>/dev/null || echo down)" ;;
  esac
}

# rss_of PID: resident memory of the process group PID, in MiB.
rss_of() {
  local p kb total=0
  for p in $(group_members "$1"); do
    kb=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$p/status" 2>/dev/null) || true
    total=$((total + ${kb:-0}))
  done
  echo $((total / 1024))
}

# ----------------------------------------------------------------- install ---

# cluster_install GROUP...: what stack.sh's install_tools and installers do
# for these servers, except the test-only tools (logrotate, chromium). Under
# stack.sh's lock, so that it never installs into the cache at the same time,
# and only when something is missing.
cluster_install() {
  local g cmds=() dists=()
  for g in "$@"; do
    case $g in
      etcd) cmds+=(etcd etcdctl) ;;
      kafka)
        cmds+=(kcat java)
        [[ -f $KAFKA_HOME/.complete ]] || { cmds+=(mvn); dists+=(kafka); }
        ;;
      es)
        cmds+=(curl java)
        [[ -f $ES_HOME/.complete ]] || { cmds+=(mvn unzip); dists+=(es); }
        if is_root && cache_needs_acl; then cmds+=(setfacl); fi
        ;;
    esac
  done
  local c missing=0
  for c in "${cmds[@]}"; do command -v "$c" >/dev/null 2>&1 || missing=1; done
  if ((missing || ${#dists[@]})); then
    exec 8>"$STACK_RUN/stack.lock"
    say "installing (waiting for stack.sh's lock $STACK_RUN/stack.lock if it is busy)"
    flock -w "$((TIMEOUT * 3))" 8 || fail "stack.sh is still running (lock $STACK_RUN/stack.lock)"
    LOGS=$STACK_LOGS need_commands "${cmds[@]}"
    for g in "${dists[@]}"; do LOGS=$STACK_LOGS "install_$g"; done
    exec 8>&-
  fi
  if [[ " ${cmds[*]} " == *" java "* ]]; then check_java; fi
}

# ------------------------------------------------------------------- start ---

start_member_etcd() {
  local name=$1 i initial= port peer
  for i in "${ETCD_MEMBERS[@]}"; do initial+=${initial:+,}"$i=http://127.0.0.1:$(($(port_of "$i") + 1))"; done
  port=$(port_of "$name") peer=$((port + 1))
  rotate_log "$name"
  mkdir -p "$DATA/$name"
  chmod 700 "$DATA/$name"   # etcd wants its data directory private
  # --initial-* count only for an empty data directory; later starts use the data.
  launch "$name" etcd \
    --name "$name" \
    --data-dir "$DATA/$name" \
    --listen-client-urls "http://127.0.0.1:$port" \
    --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$initial" \
    --initial-cluster-token brun-cluster \
    --initial-cluster-state new \
    --logger zap
}

# kafka_cluster_id: set KAFKA_CLUSTER_ID to the cluster id in a formatted
# node's meta.properties, else to a new one (Kafka's form: 16 random bytes,
# URL-safe base64 without padding, never starting with "-").
KAFKA_CLUSTER_ID=
kafka_cluster_id() {
  if [[ -z $KAFKA_CLUSTER_ID ]]; then
    KAFKA_CLUSTER_ID=$(sed -n 's/^cluster\.id=//p' "$DATA"/kafka-*/meta.properties 2>/dev/null | head -n1) || true
  fi
  while [[ -z $KAFKA_CLUSTER_ID || $KAFKA_CLUSTER_ID == -* ]]; do
    KAFKA_CLUSTER_ID=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
}

start_member_kafka() {
  local name=$1 n conf=$CONF/$1 dir=$DATA/$1 logf port voters=() m
  n=$(index_of "$name") port=$(port_of "$name") logf=$(log_file "$name")
  for m in "${KAFKA_MEMBERS[@]}"; do voters+=("$(index_of "$m")@127.0.0.1:$(($(port_of "$m") + 1))"); done
  rotate_log "$name"
  mkdir -p "$conf" "$dir"
  # Each node is broker and controller; the three controllers are a static quorum.
  cat >"$conf/server.properties" <<EOF
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(IFS=,; echo "${voters[*]}")
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$((port + 1))
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir
num.partitions=6
auto.create.topics.enable=true
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
# Off: a node that is both broker and controller cannot always finish a
# controlled shutdown. Its broker waits for the quorum (two of the three
# controllers) to grant it, and when the whole cluster stops, or the last
# nodes one after the other, the other controllers may be gone first: it
# then hangs for 5 minutes. Without it a stopped node still flushes and
# closes its logs; the controller moves its partitions' leadership once it
# misses the node's heartbeats (broker.session.timeout.ms, 9 s), as after
# a crash.
controlled.shutdown.enable=false
EOF
  write_kafka_log4j2 "$conf/log4j2.properties"
  local java=(java "-Dlog4j2.configurationFile=$conf/log4j2.properties" -Dlog4j2.shutdownHookEnabled=false
    -cp "$KAFKA_HOME/libs/*")
  # KRaft storage is formatted once, with the cluster's id, before the first start.
  if [[ ! -f $dir/meta.properties ]]; then
    kafka_cluster_id
    run_logged "$logf" "formatting Kafka storage in $dir" \
      "${java[0]}" -Xmx128m "${java[@]:1}" kafka.tools.StorageTool format \
      --cluster-id "$KAFKA_CLUSTER_ID" --config "$conf/server.properties"
  fi
  launch "$name" "${java[0]}" "-Xms$KAFKA_HEAP" "-Xmx$KAFKA_HEAP" "${java[@]:1}" kafka.Kafka "$conf/server.properties"
}

start_member_es() {
  local name=$1 conf=$CONF/$1 tmp=$RUN/$1-tmp eslogs=$LOGS/$1 port
  port=$(port_of "$name")
  rotate_log "$name"
  prepare_es_user
  mkdir -p "$conf" "$DATA/$name" "$eslogs" "$tmp"
  [[ -f $conf/jvm.options ]] || cp -R "$ES_HOME/config/." "$conf/"
  cat >"$conf/elasticsearch.yml" <<EOF
cluster.name: brun-cluster
node.name: $name
# One node, no cluster forming; the production bootstrap checks only warn.
discovery.type: single-node
network.host: 127.0.0.1
http.port: $port
transport.port: $((port + 100))
path.data: $DATA/$name
path.logs: $eslogs
cluster.routing.allocation.disk.threshold_enabled: false
xpack.security.enabled: false
EOF
  if is_root; then chown -R "$ES_USER:" "$conf" "$DATA/$name" "$eslogs" "$tmp"; fi
  local java_home as_es=()
  java_home=$(es_java_home)
  if is_root; then as_es=(setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups --); fi
  (
    cd "$eslogs"   # where the JVM puts gc.log and crash files
    launch "$name" "${as_es[@]}" env ES_JAVA_HOME="$java_home" ES_PATH_CONF="$conf" ES_TMPDIR="$tmp" \
      ES_JAVA_OPTS="-Xms$CLUSTER_ES_HEAP -Xmx$CLUSTER_ES_HEAP" "$ES_HOME/bin/elasticsearch"
  )
}

# start_members: start each of NAMES that is not up, wait until each is healthy
# and then until each group it belongs to is whole; print one line per member.
start_members() {
  local n port g
  local -A launched=() began=()
  for n in "${NAMES[@]}"; do
    if is_up "$n"; then continue; fi
    for port in $(all_ports_of "$n"); do
      if port_open "$port"; then
        fail "cannot start $n: port $port on 127.0.0.1 is already used by another program (see: ss -ltnp 'sport = :$port')"
      fi
    done
    say "starting $n (log: $(log_file "$n"))"
    began[$n]=$SECONDS
    "start_member_$(group_of "$n")" "$n"
    launched[$n]=1
    if [[ -n $STARTED_FILE ]]; then echo "$n" >>"$STARTED_FILE"; fi
  done

  local deadline=$((SECONDS + TIMEOUT))
  for n in "${NAMES[@]}"; do
    until healthy_member "$n"; do
      if [[ -n ${launched[$n]:-} ]] && ! our_pid "$n" >/dev/null; then
        fail "$n exited while starting" "$(log_file "$n")"
      fi
      if ((SECONDS >= deadline)); then
        fail "$n did not become healthy within ${TIMEOUT}s (it is left running: $0 down $n)" "$(log_file "$n")"
      fi
      sleep 1
    done
    if [[ -n ${launched[$n]:-} ]]; then
      say "$n is healthy, $((SECONDS - began[$n])) s after it was launched"
      echo "started $n"
    else
      echo "already running $n"
    fi
  done

  for g in $(groups_of "${NAMES[@]}"); do
    until "healthy_group_$g"; do
      if ((SECONDS >= deadline)); then
        fail "the $g cluster is not whole within ${TIMEOUT}s ($(group_summary "$g"))"
      fi
      sleep 1
    done
    say "$(group_summary "$g")"
  done
}

# -------------------------------------------------------------------- stop ---

# stop_members SIGNAL: stop each of NAMES this script started, all at once.
# TERM: SIGTERM to the launched process (Elasticsearch's launcher then stops
# the server itself; if it is gone, to the whole group), wait up to 30 s, then
# SIGKILL what is left. KILL: SIGKILL to each whole process group.
stop_members() {
  local sig=$1 n pid i word=stopped pending=() left
  local -A pids=()
  [[ $sig == KILL ]] && word=killed
  for n in "${NAMES[@]}"; do
    if pid=$(our_pid "$n"); then
      pids[$n]=$pid
      pending+=("$n")
      if [[ $sig == KILL ]]; then
        kill -KILL -- "-$pid" 2>/dev/null || true
      else
        kill -TERM "$pid" 2>/dev/null || kill -TERM -- "-$pid" 2>/dev/null || true
      fi
    else
      rm -f "$(pid_file "$n")"
      if port_open "$(port_of "$n")"; then say "not stopping $n: it was not started by this script"; fi
    fi
  done
  local deadline=$((SECONDS + 30))
  while ((${#pending[@]})); do
    left=()
    for n in "${pending[@]}"; do [[ -z $(group_members "${pids[$n]}") ]] || left+=("$n"); done
    pending=(${left[@]+"${left[@]}"})
    ((${#pending[@]})) || break
    if ((SECONDS >= deadline)); then
      say "${pending[*]} did not stop within 30 s of SIG$sig; sending SIGKILL"
      for n in "${pending[@]}"; do kill -KILL -- "-${pids[$n]}" 2>/dev/null || true; done
      break
    fi
    sleep 0.2
  done
  for n in "${NAMES[@]}"; do
    if [[ -n ${pids[$n]:-} ]]; then
      for ((i = 0; i < 25; i++)); do [[ -n $(group_members "${pids[$n]}") ]] || break; sleep 0.2; done
      rm -f "$(pid_file "$n")"
      echo "$word $n"
    else
      echo "not running $n"
    fi
  done
}

# ---------------------------------------------------------------- commands ---

cmd_install() {
  # shellcheck disable=SC2046
  cluster_install $(groups_of "${NAMES[@]}")
  say "installed: $(groups_of "${NAMES[@]}" | xargs) (in $DIST)"
}

cmd_up() {
  # shellcheck disable=SC2046
  cluster_install $(groups_of "${NAMES[@]}")
  start_members
}

cmd_start() { start_members; }

cmd_down() {
  stop_members TERM
  if [[ -n $STARTED_FILE ]]; then rm -f "$STARTED_FILE"; fi
}
cmd_stop() { stop_members TERM; }
cmd_kill() { stop_members KILL; }

cmd_clean() {
  local n
  for n in "${ALL_MEMBERS[@]}"; do
    if is_up "$n"; then fail "$n is running: stop the cluster first ($0 down)"; fi
  done
  rm -rf "$DATA"
  mkdir -p "$DATA"
  say "removed the cluster's data ($DATA)"
}

cmd_status() {
  local n pid state health rss
  for n in "${ALL_MEMBERS[@]}"; do
    rss=
    if pid=$(our_pid "$n"); then
      state="running (pid $pid)" rss="  rss $(rss_of "$pid") MiB"
    elif port_open "$(port_of "$n")"; then
      state="running (not started by cluster.sh)"
    else
      state=stopped
    fi
    health=
    if [[ $state != stopped ]]; then
      if healthy_member "$n"; then health=", healthy"; else health=", NOT healthy"; fi
    fi
    printf '%-8s %s%s%s  ports %s  log %s\n' "$n" "$state" "$health" "$rss" \
      "$(all_ports_of "$n" | tr ' ' /)" "$(log_file "$n")"
  done
  echo "etcd leader: $(etcd_leader || echo none)"
  echo "kafka brokers registered: $(kafka_brokers | xargs | tr ' ' ,)"
  local installed
  for installed in "$KAFKA_HOME" "$ES_HOME"; do
    if [[ -f $installed/.complete ]]; then echo "installed: $installed"; else echo "not installed: $installed"; fi
  done
  if command -v etcd >/dev/null; then echo "installed: $(command -v etcd) (Debian etcd-server)"; else echo "not installed: etcd"; fi
}

cmd_pid() {
  ((${#NAMES[@]} == 1)) || fail "pid takes one member"
  our_pid "${NAMES[0]}" || fail "${NAMES[0]} is not running (or was not started by this script)"
}

cmd_etcd_leader() { etcd_leader || fail "no etcd member reports a leader"; }

# cmd_kafka_leader TOPIC [PARTITION]: from the metadata of every topic (asking
# for one topic's would create it, auto.create.topics.enable being on), the
# lines under `topic "TOPIC"`:   partition 0, leader 2, replicas: 2,3,1, isrs: 2,3,1
cmd_kafka_leader() {
  local topic=$1 part=${2:-} lines p leader found=0
  lines=$(kafka_metadata | awk -v t="  topic \"$topic\" " '
    /^  topic "/ { in_topic = (index($0, t) == 1) ; next }
    in_topic && /^ *partition / { p = $2; l = $4; sub(",", "", p); sub(",", "", l); print p, l }') || true
  [[ -n $lines ]] || fail "no partitions of topic '$topic' in Kafka's metadata (is Kafka up? does the topic exist?)"
  while read -r p leader; do
    if [[ -n $part && $p != "$part" ]]; then continue; fi
    found=1
    if ((leader < 1)); then
      if [[ -n $part ]]; then fail "partition $p of $topic has no leader"; fi
      echo "$p none"
    elif [[ -n $part ]]; then
      echo "kafka-$leader"
    else
      echo "$p kafka-$leader"
    fi
  done <<<"$lines"
  ((found)) || fail "topic '$topic' has no partition $part"
}

cmd_endpoints() {
  echo "CLUSTER_ETCD_ENDPOINTS=$(endpoints_of etcd)"
  echo "CLUSTER_KAFKA_ENDPOINTS=$(endpoints_of kafka)"
  echo "CLUSTER_ES_ENDPOINTS=$(endpoints_of es)"
}

main() {
  local cmd=${1:-help}
  (($#)) && shift
  local args=()
  while (($#)); do
    case $1 in
      --started-file) (($# >= 2)) || fail "--started-file needs a file name"; STARTED_FILE=$2; shift 2 ;;
      --started-file=*) STARTED_FILE=${1#*=}; shift ;;
      -h | --help) usage; exit 0 ;;
      -*) fail "unknown option $1 (see: $0 help)" ;;
      *) args+=("$1"); shift ;;
    esac
  done

  case $cmd in
    help | -h | --help) usage; exit 0 ;;
    status) cmd_status; exit 0 ;;
    endpoints) cmd_endpoints; exit 0 ;;
    etcd-leader) cmd_etcd_leader; exit 0 ;;
    kafka-leader)
      ((${#args[@]} >= 1 && ${#args[@]} <= 2)) || fail "usage: $0 kafka-leader TOPIC [PARTITION]"
      cmd_kafka_leader "${args[@]}"; exit 0 ;;
    pid) normalise_names "${args[@]}"; cmd_pid; exit 0 ;;
    start | stop | kill) ((${#args[@]})) || fail "$cmd needs member names (${ALL_MEMBERS[*]})" ;;
    up | down | install | clean) ;;
    *) fail "unknown command '$cmd' (see: $0 help)" ;;
  esac

  if ((${#args[@]})); then
    normalise_names "${args[@]}"
  elif [[ $cmd == down && -n $STARTED_FILE ]]; then
    # Stop exactly what an earlier `up --started-file FILE` started.
    local listed=()
    if [[ -f $STARTED_FILE ]]; then mapfile -t listed < <(grep -v '^[[:space:]]*$' "$STARTED_FILE" | sort -u); fi
    if ((${#listed[@]})); then normalise_names "${listed[@]}"; else NAMES=(); fi
  else
    NAMES=("${ALL_MEMBERS[@]}")
  fi

  # One cluster.sh changing things at a time.
  exec 9>"$RUN/cluster.lock"
  if ! flock -w "$((TIMEOUT * 3))" 9; then fail "another cluster.sh is still running (lock $RUN/cluster.lock)"; fi

  "cmd_$cmd"
}

main "$@"
