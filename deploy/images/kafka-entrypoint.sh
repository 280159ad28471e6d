#!/bin/bash
# Writes server.properties from the KAFKA_* environment (as the official image does:
# KAFKA_LOG_DIRS -> log.dirs; "__" stands for "_" and "___" for "-"), formats the log
# directory once, then runs the broker as PID 1 so SIGTERM stops it cleanly.
set -euo pipefail
conf=/opt/kafka/config/server.properties
: >"$conf"
while IFS='=' read -r name value; do
  case $name in
    KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_LOG4J_OPTS) continue ;;
    KAFKA_*) ;;
    *) continue ;;
  esac
  key=${name#KAFKA_}
  key=$(printf '%s' "$key" | tr '[:upper:]' '[:lower:]' | sed -e 's/___/-/g' -e 's/__/@/g' -e 's/_/./g' -e 's/@/_/g')
  printf '%s=%s\n' "$key" "${!name}" >>"$conf"
done < <(env)
grep -q '^log.dirs=' "$conf" || echo "log.dirs=/var/lib/kafka/data" >>"$conf"
logdir=$(sed -n 's/^log.dirs=//p' "$conf" | cut -d, -f1)
if [ ! -f "$logdir/meta.properties" ]; then
  # One fixed id unless given: a single-node development cluster. A static quorum
  # (controller.quorum.voters) is formatted as it is; otherwise this node is the quorum.
  standalone=--standalone
  grep -q '^controller.quorum.voters=' "$conf" && standalone=
  # shellcheck disable=SC2086
  java $KAFKA_HEAP_OPTS -cp '/opt/kafka/libs/*' kafka.tools.StorageTool format \
    $standalone -t "${CLUSTER_ID:-Y2FyZWZsb3ctZGV2LTAx}" -c "$conf" --ignore-formatted
fi
# shellcheck disable=SC2086
exec java $KAFKA_HEAP_OPTS ${KAFKA_OPTS:-} -cp '/opt/kafka/libs/*' kafka.Kafka "$conf"
