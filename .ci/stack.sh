#!/usr/bin/env bash
# .ci/stack.sh - install and run the servers brun's integration tests talk to.
#
# The servers are real ones, each on 127.0.0.1 only:
#   etcd           3.4 (Debian's etcd-server)  client 127.0.0.1:2379, peer 2380
#   kafka          Apache Kafka 4.1.1, KRaft   broker 127.0.0.1:9092, controller 9093
#   es             Elasticsearch 8.19.7        http 127.0.0.1:9200, transport 9300
#
# Usage:
#   .ci/stack.sh up     [--started-file FILE] [etcd|kafka|es ...]
#                        Install what is missing, start the named servers (default:
#                        all three) unless they already answer on their port, and
#                        wait until each is healthy. Prints "started NAME" or
#                        "already running NAME" for each. With --started-file (or
#                        BRUN_STARTED_FILE=FILE) the names of the servers this call
#                        started are appended to FILE, one per line, so that a test
#                        runner can stop exactly those afterwards.
#   .ci/stack.sh down   [--started-file FILE] [etcd|kafka|es ...]
#                        Stop servers this script started (found by their pid
#                        files): SIGTERM, wait, then SIGKILL. Default: all three;
#                        with --started-file, the names listed in FILE (which is
#                        then removed). Servers it did not start are left alone.
#   .ci/stack.sh status  Show what runs, what is healthy and where the logs are.
#   .ci/stack.sh install [etcd|kafka|es ...]   Install only, start nothing.
#
# Everything lives outside the checkout, in a cache directory:
#   ${BRUN_CACHE:-$HOME/.cache/brun}/
#     dist/<name>-<version>/  the installed servers (a ".complete" marker file is
#                             written last; a directory without it is a half-done
#                             install and is redone)
#     conf/<name>/            config files, rewritten on every start
#     data/<name>/            the servers' data (kept between runs)
#     logs/<name>.log         each server's output (the previous run's: .log.1)
#     logs/install-*.log      output of the downloads
#     run/<name>.pid          pid of each server this script started
#
# Environment:
#   BRUN_CACHE             cache directory (default $HOME/.cache/brun)
#   BRUN_STACK_TIMEOUT     seconds to wait for each server to get healthy (180)
#   BRUN_STARTED_FILE      same as --started-file
#   BRUN_ES_USER           user Elasticsearch runs as when we are root (brun-es)
#
# Downloads come from Debian (apt-get: etcd, etcdctl, kcat, and logrotate and
# chromium for the agent and console tests) and from Maven
# Central (mvn: Kafka's jars, the Elasticsearch zip); Java 17+ must be there.
set -euo pipefail
umask 022   # files we create must stay readable by the Elasticsearch user

# ---------------------------------------------------------------- settings ---

KAFKA_VERSION=4.1.1
ES_VERSION=8.19.7
# Maven plugin used for the downloads, pinned so every machine behaves the same.
MVN_DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

ETCD_PORT=2379 ETCD_PEER_PORT=2380
KAFKA_PORT=9092 KAFKA_CONTROLLER_PORT=9093
ES_PORT=9200 ES_TRANSPORT_PORT=9300

TIMEOUT=${BRUN_STACK_TIMEOUT:-180}
ES_USER=${BRUN_ES_USER:-brun-es}
STARTED_FILE=${BRUN_STARTED_FILE:-}

ALL_NAMES=(etcd kafka es)

CACHE=${BRUN_CACHE:-$HOME/.cache/brun}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd -P)   # absolute: it is also how we recognise our processes
DIST=$CACHE/dist CONF=$CACHE/conf DATA=$CACHE/data LOGS=$CACHE/logs RUN=$CACHE/run
mkdir -p "$DIST" "$CONF" "$DATA" "$LOGS" "$RUN"

KAFKA_HOME=$DIST/kafka-$KAFKA_VERSION
ES_HOME=$DIST/elasticsearch-$ES_VERSION

# ----------------------------------------------------------------- helpers ---

# ME prefixes every message (.ci/cluster.sh, which sources this file, sets its own).
ME=stack

# Progress goes to stderr; stdout only gets the "started NAME" style results.
say() { echo "$ME: $*" >&2; }

# fail WHAT [LOGFILE [COMMAND...]]: say what went wrong, which command, where its
# log is (with its last lines), and exit non-zero.
fail() {
  local what=$1 logf=${2:-}
  shift $(($# < 2 ? $# : 2))
  {
    echo "$ME: ERROR: $what"
    if (($#)); then echo "$ME:   command: $*"; fi
    if [[ -n $logf ]]; then
      echo "$ME:   log file: $logf"
      if [[ -s $logf ]]; then
        # Error lines first (they may be far up in a chatty log), then the end.
        if grep -qiE 'error|fatal|exception' "$logf"; then
          echo "$ME:   last error lines in the log:"
          grep -iE 'error|fatal|exception' "$logf" | tail -n 8 | cut -c1-400 | sed 's/^/    | /'
        fi
        echo "$ME:   last lines of the log:"
        tail -n 25 "$logf" | cut -c1-400 | sed 's/^/    | /'
      fi
    fi
  } >&2
  exit 1
}

# run_logged LOGFILE WHAT COMMAND...: run COMMAND with its output appended to
# LOGFILE; if it fails, report it (fail) and exit.
run_logged() {
  local logf=$1 what=$2; shift 2
  local cmd; printf -v cmd '%q ' "$@"
  echo "==== $(date '+%F %T') $cmd" >>"$logf"
  if ! "$@" >>"$logf" 2>&1; then
    fail "$what failed" "$logf" "$cmd"
  fi
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# port_open PORT: does something accept TCP connections on 127.0.0.1:PORT?
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

log_file() { echo "$LOGS/$1.log"; }
pid_file() { echo "$RUN/$1.pid"; }

# mentions_cache PID: does the command line of process PID mention our cache
# directory? (All our servers have it in their arguments.)
mentions_cache() {
  [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$CACHE"
}

# group_members PGID: print the pids of the live (not zombie) processes in
# process group PGID, read from /proc/<pid>/stat ("pid (comm) state ppid pgrp ...").
group_members() {
  local f stat fields
  for f in /proc/[0-9]*/stat; do
    { read -r stat <"$f"; } 2>/dev/null || continue   # the process may be gone already
    read -r -a fields <<<"${stat##*) }"
    if [[ ${fields[2]} == "$1" && ${fields[0]} != Z ]]; then
      f=${f#/proc/}
      echo "${f%/stat}"
    fi
  done
}

# our_pid NAME: print the pid of NAME if this script started it and it (or a
# child of it, e.g. the real Elasticsearch JVM under its launcher) still runs.
# That pid is also the process group id of the server. Processes count only if
# their command line mentions our cache directory, so a stale pid file whose
# number was reused by some other program is ignored.
our_pid() {
  local pidf pid member
  pidf=$(pid_file "$1")
  [[ -s $pidf ]] || return 1
  pid=$(<"$pidf")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  for member in $(group_members "$pid"); do
    if mentions_cache "$member"; then echo "$pid"; return 0; fi
  done
  return 1
}

# port_of NAME: the port clients use; all_ports_of NAME: every port it listens on.
port_of() {
  case $1 in etcd) echo $ETCD_PORT ;; kafka) echo $KAFKA_PORT ;; es) echo $ES_PORT ;; esac
}
all_ports_of() {
  case $1 in
    etcd) echo $ETCD_PORT $ETCD_PEER_PORT ;;
    kafka) echo $KAFKA_PORT $KAFKA_CONTROLLER_PORT ;;
    es) echo $ES_PORT $ES_TRANSPORT_PORT ;;
  esac
}

# Health checks: succeed only when the server really serves requests.
healthy_etcd() {
  ETCDCTL_API=3 timeout 10 etcdctl --endpoints=127.0.0.1:$ETCD_PORT \
    --dial-timeout=2s --command-timeout=3s endpoint health >/dev/null 2>&1
}
healthy_kafka() {
  # The broker answers metadata requests only once it has fully started; the
  # answer must list broker 1 (our only node).
  timeout 10 kcat -m 5 -b 127.0.0.1:$KAFKA_PORT -L 2>/dev/null | grep -q "broker 1 at 127.0.0.1:$KAFKA_PORT"
}
healthy_es() {
  curl -fsS --max-time 10 \
    "http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=3s" 2>/dev/null |
    grep -qE '"status":"(green|yellow)"'
}
healthy() { "healthy_$1"; }

# normalise_names NAME...: check the names (allowing "elasticsearch" for es) and
# set NAMES to them, without duplicates, in the order etcd, kafka, es.
normalise_names() {
  local n wanted=" "
  for n in "$@"; do
    case $n in
      etcd | kafka | es) wanted+="$n " ;;
      elasticsearch) wanted+="es " ;;
      *) fail "unknown server '$n' (known: ${ALL_NAMES[*]})" ;;
    esac
  done
  NAMES=()
  for n in "${ALL_NAMES[@]}"; do
    if [[ $wanted == *" $n "* ]]; then NAMES+=("$n"); fi
  done
}

# ----------------------------------------------------------------- install ---

# Debian packages, installed only when the command they provide is missing.
declare -A APT_PACKAGE_OF=(
  [etcd]=etcd-server [etcdctl]=etcd-client [kcat]=kcat [logrotate]=logrotate
  [curl]=curl [unzip]=unzip [mvn]=maven [java]=openjdk-17-jre-headless [setfacl]=acl
  [chromium]=chromium
)

# need_commands CMD...: make sure the commands exist, apt-installing the missing ones.
need_commands() {
  local c missing=()
  for c in "$@"; do
    if ! command -v "$c" >/dev/null 2>&1 && [[ " ${missing[*]} " != *" ${APT_PACKAGE_OF[$c]} "* ]]; then
      missing+=("${APT_PACKAGE_OF[$c]}")
    fi
  done
  ((${#missing[@]})) || return 0

  local sudo=()
  if ! is_root; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      fail "missing Debian packages: ${missing[*]}; install them (as root: apt-get install ${missing[*]}) and retry"
    fi
  fi
  local logf=$LOGS/install-apt.log
  say "installing Debian packages: ${missing[*]} (log: $logf)"
  run_logged "$logf" "apt-get update" "${sudo[@]}" apt-get update
  run_logged "$logf" "installing ${missing[*]}" \
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"

  # On a machine running systemd, Debian starts etcd as a service right away
  # (listening on 2379 with its own data). Stop it: we run our own.
  if [[ " ${missing[*]} " == *" etcd-server "* ]] && [[ -d /run/systemd/system ]]; then
    say "stopping and disabling the etcd systemd service that the Debian package started"
    "${sudo[@]}" systemctl disable --now etcd.service >>"$logf" 2>&1 || true
  fi
}

check_java() {
  local v
  v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  [[ -n $v && $v -ge 17 ]] || fail "Java 17 or newer is needed, 'java -version' says: $(java -version 2>&1 | head -n1)"
}

# cache_needs_acl: true if some directory above the cache may not be entered by
# other users (like /root, mode 700), so the Elasticsearch user needs an ACL.
cache_needs_acl() {
  local d=$CACHE mode
  while [[ $d != / ]]; do
    mode=$(stat -c %a "$d")
    (((8#$mode & 1) == 0)) && return 0
    d=$(dirname "$d")
  done
  return 1
}

# install_tools NAME...: install, with a single apt-get run, every Debian package
# that the named servers need and that is missing.
install_tools() {
  local n cmds=()
  for n in "$@"; do
    case $n in
      etcd) cmds+=(etcd etcdctl logrotate chromium) ;;   # logrotate: agent rotation tests; chromium: console browser test
      kafka)
        cmds+=(kcat java)   # kcat: the health check, and what bench-agent measures brun against
        [[ -f $KAFKA_HOME/.complete ]] || cmds+=(mvn)
        ;;
      es)
        cmds+=(curl java)
        [[ -f $ES_HOME/.complete ]] || cmds+=(mvn unzip)
        if is_root && cache_needs_acl; then cmds+=(setfacl); fi
        ;;
    esac
  done
  need_commands "${cmds[@]}"
  if [[ " ${cmds[*]} " == *" java "* ]]; then check_java; fi
}

install_etcd() { :; }   # Debian's package, installed by install_tools

# Kafka is not a Debian package: we fetch the broker jar and everything it needs
# at run time from Maven Central with a throw-away pom, into dist/kafka-*/libs.
install_kafka() {
  [[ -f $KAFKA_HOME/.complete ]] && return 0
  local logf=$LOGS/install-kafka.log
  say "installing Kafka $KAFKA_VERSION into $KAFKA_HOME (log: $logf)"
  rm -rf "$KAFKA_HOME"
  mkdir -p "$KAFKA_HOME"
  # kafka_2.13 (the broker, including kafka.tools.StorageTool which formats the
  # storage) pulls in every other runtime jar it needs (kafka-clients,
  # kafka-server, kafka-raft, kafka-storage, log4j-core, slf4j-api 1.7, ...).
  # log4j-slf4j-impl routes the slf4j 1.7 logging to log4j2, i.e. to our log file.
  cat >"$KAFKA_HOME/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>brun.ci</groupId>
  <artifactId>kafka-dist</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>2.24.3</version>
    </dependency>
  </dependencies>
</project>
EOF
  run_logged "$logf" "downloading Kafka $KAFKA_VERSION from Maven Central" \
    mvn -B -q -f "$KAFKA_HOME/pom.xml" \
    "$MVN_DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME/libs"
  [[ -f $KAFKA_HOME/libs/kafka_2.13-$KAFKA_VERSION.jar ]] ||
    fail "Kafka download finished but $KAFKA_HOME/libs/kafka_2.13-$KAFKA_VERSION.jar is missing" "$logf"
  touch "$KAFKA_HOME/.complete"
}

# Elasticsearch: Maven Central has only the "integ-test-zip" flavour: the core
# server plus x-pack-core/x-pack-security, transport-netty4 and apm modules.
install_es() {
  [[ -f $ES_HOME/.complete ]] && return 0
  local logf=$LOGS/install-es.log tmp=$DIST/.tmp-elasticsearch
  say "installing Elasticsearch $ES_VERSION into $ES_HOME (log: $logf)"
  rm -rf "$ES_HOME" "$tmp"
  mkdir -p "$tmp"
  run_logged "$logf" "downloading Elasticsearch $ES_VERSION from Maven Central" \
    mvn -B -q "$MVN_DEP_PLUGIN:copy" \
    -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
    -DoutputDirectory="$tmp"
  run_logged "$logf" "unpacking Elasticsearch" unzip -q "$tmp/elasticsearch-$ES_VERSION.zip" -d "$tmp"
  mv "$tmp/elasticsearch-$ES_VERSION" "$ES_HOME"
  rm -rf "$tmp"
  touch "$ES_HOME/.complete"
}

# install_all NAME...: install whatever the named servers need (only what is missing).
install_all() {
  install_tools "$@"
  local n
  for n in "$@"; do "install_$n"; done
}

# ------------------------------------------------------------------- start ---

# launch NAME COMMAND...: start COMMAND in the background in a session of its
# own (so `down` can signal it and all its children as one process group),
# with no terminal, stdout and stderr appended to logs/NAME.log. Its pid (which
# is also the process group id) is written to run/NAME.pid.
launch() {
  local name=$1; shift
  local logf pidf cmd
  logf=$(log_file "$name") pidf=$(pid_file "$name")
  printf -v cmd '%q ' "$@"
  echo "==== $(date '+%F %T') starting: $cmd" >>"$logf"
  rm -f "$pidf"
  # 9>&- : do not hand our lock file descriptor down to the server.
  # shellcheck disable=SC2016  # $$ and "$@" are for the inner bash
  setsid bash -c 'echo $$ >"$0"; ulimit -n 65535 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; exec "$@"' \
    "$pidf" "$@" </dev/null >>"$logf" 2>&1 9>&- &
  local i
  for i in {1..50}; do [[ -s $pidf ]] && return 0; sleep 0.1; done
  fail "could not start $name" "$logf" "$cmd"
}

# rotate_log NAME: keep the previous run's log as NAME.log.1.
rotate_log() {
  local logf; logf=$(log_file "$1")
  if [[ -f $logf ]]; then mv -f "$logf" "$logf.1"; fi
}

start_etcd() {
  rotate_log etcd
  mkdir -p "$DATA/etcd"
  chmod 700 "$DATA/etcd"   # etcd wants its data directory private
  launch etcd etcd \
    --name brun \
    --data-dir "$DATA/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "brun=http://127.0.0.1:$ETCD_PEER_PORT" \
    --logger zap
}

# write_kafka_log4j2 FILE: Kafka 4 logs through log4j2; without a config it
# would print errors only. To stderr, so that the storage tool's stdout (the
# cluster id) stays clean.
write_kafka_log4j2() {
  cat >"$1" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.target = SYSTEM_ERR
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
EOF
}

start_kafka() {
  rotate_log kafka
  local conf=$CONF/kafka logf; logf=$(log_file kafka)
  mkdir -p "$conf" "$DATA/kafka"
  # Single node in KRaft mode: one process is both broker and controller.
  cat >"$conf/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA/kafka
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
  write_kafka_log4j2 "$conf/log4j2.properties"
  # log4j2's own shutdown hook would stop logging before Kafka's has finished:
  # turn it off so the log shows the whole shutdown.
  local java=(java "-Dlog4j2.configurationFile=$conf/log4j2.properties" -Dlog4j2.shutdownHookEnabled=false
    -cp "$KAFKA_HOME/libs/*")
  # KRaft storage must be formatted once, with a cluster id, before the first start.
  if [[ ! -f $DATA/kafka/meta.properties ]]; then
    local cluster_id
    cluster_id=$("${java[@]}" kafka.tools.StorageTool random-uuid 2>>"$logf" | tail -n 1) ||
      fail "could not make a Kafka cluster id" "$logf" "${java[*]} kafka.tools.StorageTool random-uuid"
    run_logged "$logf" "formatting Kafka storage in $DATA/kafka" \
      "${java[@]}" kafka.tools.StorageTool format --cluster-id "$cluster_id" --config "$conf/server.properties"
  fi
  launch kafka "${java[0]}" -Xms512m -Xmx512m "${java[@]:1}" kafka.Kafka "$conf/server.properties"
}

# run_as_es COMMAND...: run COMMAND as the Elasticsearch user. Elasticsearch
# refuses to run as root, so as root we switch to a system user of its own;
# otherwise it runs as whoever runs this script.
run_as_es() {
  if is_root; then
    setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups -- "$@"
  else
    "$@"
  fi
}

# As root: make the Elasticsearch user exist and able to reach the cache (the
# default cache is under /root, which only root may enter: we give the user
# just the right to pass through such directories, with an ACL).
prepare_es_user() {
  is_root || return 0
  if ! id -u "$ES_USER" >/dev/null 2>&1; then
    say "creating system user $ES_USER to run Elasticsearch (it refuses to run as root)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$ES_USER" ||
      fail "could not create user $ES_USER" "" useradd --system "$ES_USER"
  fi
  run_as_es test -r "$ES_HOME/bin/elasticsearch" && return 0
  need_commands setfacl
  local d=$CACHE dirs=()
  while [[ $d != / ]]; do dirs=("$d" "${dirs[@]}"); d=$(dirname "$d"); done
  for d in "${dirs[@]}"; do
    if ! run_as_es test -x "$d"; then
      say "letting $ES_USER pass through $d (setfacl -m u:$ES_USER:x $d)"
      setfacl -m "u:$ES_USER:x" "$d" || fail "could not give $ES_USER access to $d; set BRUN_CACHE to a directory it can reach" "" setfacl -m "u:$ES_USER:x" "$d"
    fi
  done
  run_as_es test -r "$ES_HOME/bin/elasticsearch" ||
    fail "user $ES_USER still cannot read $ES_HOME; set BRUN_CACHE to a directory it can reach"
}

# es_java_home: the Java Elasticsearch runs on: ES_JAVA_HOME, else the one
# `java` on the PATH belongs to.
es_java_home() {
  if [[ -n ${ES_JAVA_HOME:-} ]]; then echo "$ES_JAVA_HOME"; return; fi
  dirname "$(dirname "$(readlink -f "$(command -v java)")")"
}

start_es() {
  rotate_log es
  prepare_es_user
  local conf=$CONF/es tmp=$RUN/es-tmp eslogs=$LOGS/es
  mkdir -p "$conf" "$DATA/es" "$eslogs" "$tmp"
  # ES's own config files (jvm.options, log4j2.properties, ...), copied once;
  # elasticsearch.yml is ours and rewritten on every start.
  [[ -f $conf/jvm.options ]] || cp -R "$ES_HOME/config/." "$conf/"
  cat >"$conf/elasticsearch.yml" <<EOF
cluster.name: brun
node.name: brun-es
# One node, no cluster forming; with it the production bootstrap checks
# (vm.max_map_count, file descriptors) only warn instead of stopping ES.
discovery.type: single-node
network.host: 127.0.0.1
http.port: $ES_PORT
transport.port: $ES_TRANSPORT_PORT
path.data: $DATA/es
path.logs: $eslogs
# The disk may be nearly full on CI machines: never go read-only for that.
cluster.routing.allocation.disk.threshold_enabled: false
# Plain http, no passwords (this zip has the x-pack-security module).
xpack.security.enabled: false
EOF
  if is_root; then chown -R "$ES_USER:" "$conf" "$DATA/es" "$eslogs" "$tmp"; fi

  local java_home; java_home=$(es_java_home)
  # The working directory is where the JVM puts gc.log and crash files.
  local as_es=()
  if is_root; then as_es=(setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups --); fi
  (
    cd "$eslogs"
    launch es "${as_es[@]}" env ES_JAVA_HOME="$java_home" ES_PATH_CONF="$conf" ES_TMPDIR="$tmp" \
      ES_JAVA_OPTS="-Xms1g -Xmx1g" "$ES_HOME/bin/elasticsearch"
  )
}

# ------------------------------------------------------------------- stop ----

# stop_one NAME: stop NAME if we started it: SIGTERM to the process we
# launched (Elasticsearch's launcher then stops the real server itself; if the
# launcher is gone, to the whole process group), wait up to 30 s for the whole
# group to exit, then SIGKILL the group.
stop_one() {
  local name=$1 pid pidf i
  pidf=$(pid_file "$name")
  if ! pid=$(our_pid "$name"); then
    if [[ -e $pidf ]]; then rm -f "$pidf"; fi
    if port_open "$(port_of "$name")"; then
      say "not stopping $name: it was not started by this script"
    fi
    echo "not running $name"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || kill -TERM -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    [[ -n $(group_members "$pid") ]] || break
    sleep 0.1
  done
  if [[ -n $(group_members "$pid") ]]; then
    say "$name did not stop within 30 s of SIGTERM; sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$pidf"
  echo "stopped $name"
}

# ---------------------------------------------------------------- commands ---

cmd_install() {
  install_all "${NAMES[@]}"
  say "installed: ${NAMES[*]} (in $DIST)"
}

cmd_up() {
  local n port
  install_all "${NAMES[@]}"

  # Start everything that is not up yet, all at once (they start in parallel)...
  local -A launched=() deadline=()
  for n in "${NAMES[@]}"; do
    deadline[$n]=$((SECONDS + TIMEOUT))
    if our_pid "$n" >/dev/null || port_open "$(port_of "$n")"; then
      continue
    fi
    for port in $(all_ports_of "$n"); do
      if port_open "$port"; then
        fail "cannot start $n: port $port on 127.0.0.1 is already used by another program (see: ss -ltnp 'sport = :$port')"
      fi
    done
    say "starting $n (log: $(log_file "$n"))"
    "start_$n"
    launched[$n]=1
    if [[ -n $STARTED_FILE ]]; then echo "$n" >>"$STARTED_FILE"; fi
  done

  # ...then wait for each one to be healthy.
  for n in "${NAMES[@]}"; do
    until healthy "$n"; do
      if [[ -n ${launched[$n]:-} ]] && ! our_pid "$n" >/dev/null; then
        fail "$n exited while starting" "$(log_file "$n")"
      fi
      if ((SECONDS >= deadline[$n])); then
        if [[ -n ${launched[$n]:-} ]]; then
          stop_one "$n" >/dev/null
          fail "$n did not become healthy within ${TIMEOUT}s (stopped it again)" "$(log_file "$n")"
        fi
        fail "port $(port_of "$n") is taken by something that is not a healthy $n (waited ${TIMEOUT}s)"
      fi
      sleep 1
    done
    if [[ -n ${launched[$n]:-} ]]; then
      say "$n is healthy, $((SECONDS - deadline[$n] + TIMEOUT)) s after it was launched"
      echo "started $n"
    else
      echo "already running $n"
    fi
  done
}

cmd_down() {
  local i
  # Stop in reverse order of start: es, kafka, etcd.
  for ((i = ${#NAMES[@]} - 1; i >= 0; i--)); do stop_one "${NAMES[$i]}"; done
  if [[ -n $STARTED_FILE ]]; then rm -f "$STARTED_FILE"; fi
}

cmd_status() {
  local n pid state health installed
  for n in "${ALL_NAMES[@]}"; do
    if pid=$(our_pid "$n"); then
      state="running (pid $pid, started by stack.sh)"
    elif port_open "$(port_of "$n")"; then
      state="running (not started by stack.sh)"
    else
      state="stopped"
    fi
    health=""
    if [[ $state != stopped ]]; then
      if healthy "$n"; then health=", healthy"; else health=", NOT healthy"; fi
    fi
    printf '%-6s %s%s  port %s  log %s\n' "$n" "$state" "$health" "$(port_of "$n")" "$(log_file "$n")"
  done
  for installed in "$KAFKA_HOME" "$ES_HOME"; do
    if [[ -f $installed/.complete ]]; then echo "installed: $installed"; else echo "not installed: $installed"; fi
  done
  if command -v etcd >/dev/null; then echo "installed: $(command -v etcd) (Debian etcd-server)"; else echo "not installed: etcd"; fi
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

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
    up | down | install) ;;
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
    NAMES=("${ALL_NAMES[@]}")
  fi

  # One stack.sh at a time (two test runs starting servers at once would race).
  exec 9>"$RUN/stack.lock"
  if ! flock -w "$((TIMEOUT * 3))" 9; then fail "another stack.sh is still running (lock $RUN/stack.lock)"; fi

  "cmd_$cmd"
}

# Run main only when executed; .ci/cluster.sh sources this file for its
# settings, helpers and installers.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
