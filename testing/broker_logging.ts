/**
 * How a broker of a given Kafka line logs: the 3.x line logs through log4j 1 (reload4j), the
 * 4.x line through log4j 2. Both write to the process's output, which the broker launcher
 * sends to the broker's log file.
 *
 * @module
 */

/** The logging of one Kafka line: what Maven fetches beside Kafka, and how the JVM finds it. */
export interface BrokerLogging {
  /** Maven coordinates (`group:artifact:version`) fetched beside Kafka's own jars. */
  readonly dependencies: readonly string[];
  /** The configuration's file name in the broker's folder. */
  readonly fileName: string;
  /** The configuration. */
  readonly contents: string;
  /** The JVM flag naming the configuration file, given its path. */
  jvmFlag(path: string): string;
}

// Request logs and the broker's own clients are noisy at INFO and say nothing tests need.
const LOG4J1: BrokerLogging = {
  dependencies: ["org.slf4j:slf4j-reload4j:1.7.36", "ch.qos.reload4j:reload4j:1.2.25"],
  fileName: "log4j.properties",
  contents: `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
`,
  jvmFlag: (path) => `-Dlog4j.configuration=file:${path}`,
};

// Kafka 4 brings log4j-api and log4j-core but no SLF4J binding for its slf4j-api 1.7.
const LOG4J2: BrokerLogging = {
  dependencies: ["org.apache.logging.log4j:log4j-slf4j-impl:2.25.5"],
  fileName: "log4j2.properties",
  contents: `status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
`,
  jvmFlag: (path) => `-Dlog4j2.configurationFile=${path}`,
};

/**
 * The logging of a Kafka version: log4j 2 from 4.0 on, log4j 1 (reload4j) before.
 *
 * @example
 * ```ts
 * import { brokerLogging } from "./broker_logging.ts";
 *
 * console.log(brokerLogging("4.4.0").fileName); // "log4j2.properties"
 * console.log(brokerLogging("3.9.1").fileName); // "log4j.properties"
 * ```
 */
export function brokerLogging(kafkaVersion: string): BrokerLogging {
  const major = Number.parseInt(kafkaVersion, 10);
  return major >= 4 ? LOG4J2 : LOG4J1;
}
