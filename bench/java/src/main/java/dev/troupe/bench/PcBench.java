package dev.troupe.bench;

import static io.confluent.parallelconsumer.ParallelConsumerOptions.ProcessingOrder.KEY;

import io.confluent.parallelconsumer.ParallelConsumerOptions;
import io.confluent.parallelconsumer.ParallelStreamProcessor;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The Confluent Parallel Consumer peer of the I/O-bound benchmark: KEY ordering, {@code
 * --concurrency} records in flight at most (the same total as troupe's key mode), each record
 * handled by sleeping {@code --sleep-ms}. Reads the topic from the beginning with a fresh group
 * until {@code --messages} records were handled, then prints one JSON line:
 *
 * <pre>{"type":"result","handled":N,"elapsedMs":T,"joinMs":J}</pre>
 *
 * <p>{@code elapsedMs} runs from the moment partitions were assigned to the moment the last
 * record was handled, so the group join (measured apart as {@code joinMs}) is not counted, as
 * Kafka's ConsumerPerformance does with its fetch time.
 */
public final class PcBench {
  public static void main(String[] args) throws Exception {
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) options.put(args[i], args[i + 1]);
    String brokers = required(options, "--brokers");
    String topic = required(options, "--topic");
    String group = required(options, "--group");
    long messages = Long.parseLong(required(options, "--messages"));
    int concurrency = Integer.parseInt(options.getOrDefault("--concurrency", "768"));
    long sleepMs = Long.parseLong(options.getOrDefault("--sleep-ms", "5"));
    long timeoutMs = Long.parseLong(options.getOrDefault("--timeout-ms", "300000"));

    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    // Parallel Consumer commits itself and refuses a consumer that auto-commits.
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    props.put(
        ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props);

    ParallelConsumerOptions<byte[], byte[]> pcOptions =
        ParallelConsumerOptions.<byte[], byte[]>builder()
            .ordering(KEY)
            .maxConcurrency(concurrency)
            .consumer(consumer)
            .build();
    ParallelStreamProcessor<byte[], byte[]> processor =
        ParallelStreamProcessor.createEosStreamProcessor(pcOptions);

    long startedAt = System.nanoTime();
    AtomicLong assignedAt = new AtomicLong();
    AtomicLong finishedAt = new AtomicLong();
    AtomicLong handled = new AtomicLong();
    CountDownLatch done = new CountDownLatch(1);

    processor.subscribe(
        List.of(topic),
        new ConsumerRebalanceListener() {
          @Override
          public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            if (!partitions.isEmpty()) assignedAt.compareAndSet(0, System.nanoTime());
          }

          @Override
          public void onPartitionsRevoked(Collection<TopicPartition> partitions) {}
        });
    processor.poll(
        context -> {
          try {
            Thread.sleep(sleepMs);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
          if (handled.incrementAndGet() == messages) {
            finishedAt.set(System.nanoTime());
            done.countDown();
          }
        });

    boolean finished = done.await(timeoutMs, TimeUnit.MILLISECONDS);
    long end = finished ? finishedAt.get() : System.nanoTime();
    long assigned = assignedAt.get() == 0 ? startedAt : assignedAt.get();
    System.out.printf(
        "{\"type\":\"result\",\"handled\":%d,\"elapsedMs\":%.3f,\"joinMs\":%.3f,\"timedOut\":%b}%n",
        Math.min(handled.get(), messages),
        (end - assigned) / 1e6,
        (assigned - startedAt) / 1e6,
        !finished);
    System.out.flush();
    // The figure is out; closing (draining, committing) is not part of the measurement, and a
    // fresh group per run means nothing depends on what this one commits.
    Thread closer = new Thread(() -> processor.closeDontDrainFirst(Duration.ofSeconds(5)));
    closer.setDaemon(true);
    closer.start();
    closer.join(6000);
    System.exit(finished ? 0 : 3);
  }

  private static String required(Map<String, String> options, String name) {
    String value = options.get(name);
    if (value == null) {
      System.err.println("PcBench: missing " + name);
      System.exit(2);
    }
    return value;
  }
}
