#!/bin/bash
# kafka-server-start.sh server.properties — runs the broker in the foreground.
KAFKA_HOME=${KAFKA_HOME:-/opt/kafka}
: "${KAFKA_LOG4J_OPTS:=-Dlog4j.configuration=file:${KAFKA_HOME}/config/log4j.properties}"
: "${KAFKA_HEAP_OPTS:=-Xmx512m -Xms256m}"
: "${KAFKA_JVM_PERFORMANCE_OPTS:=-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"
export KAFKA_LOG4J_OPTS KAFKA_HEAP_OPTS KAFKA_JVM_PERFORMANCE_OPTS
exec "$(dirname "$0")/kafka-run-class.sh" kafka.Kafka "$@"
