#!/bin/sh
# As in the Apache Kafka distribution: kafka.Kafka on the image's jars.
exec java ${KAFKA_TOOL_OPTS:--Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dorg.slf4j.simpleLogger.defaultLogLevel=warn} -cp '/opt/kafka/libs/*' kafka.Kafka "$@"
