#!/bin/bash
# Minimal stand-in for Kafka's bin/kafka-run-class.sh: kafka-run-class.sh CLASS [ARGS...]
set -e
KAFKA_HOME=${KAFKA_HOME:-/opt/kafka}
if [ -z "${KAFKA_LOG4J_OPTS:-}" ]; then
  KAFKA_LOG4J_OPTS="-Dlog4j.configuration=file:${KAFKA_HOME}/config/tools-log4j.properties"
fi
# shellcheck disable=SC2086  # word splitting of *_OPTS is intended, as upstream
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} ${KAFKA_JVM_PERFORMANCE_OPTS:-} ${KAFKA_LOG4J_OPTS} ${KAFKA_OPTS:-} \
  -cp "${KAFKA_HOME}/libs/*" "$@"
