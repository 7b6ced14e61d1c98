package dev.troupe.bench;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.ProducerInterceptor;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * Gives every record a key from 1,000 distinct ones ("0" to "999", in turn).
 *
 * <p>Kafka's ProducerPerformance tool sends keyless records. Interceptors run before the
 * partitioner, so a key set here decides the partition exactly as a key given by the
 * application would: records of one key land in one partition, as the benchmark's key-mode
 * rows need. Configure with {@code interceptor.classes=dev.troupe.bench.KeyingInterceptor};
 * {@code troupe.bench.keys} changes the number of keys.
 */
public final class KeyingInterceptor implements ProducerInterceptor<byte[], byte[]> {
  private final AtomicLong next = new AtomicLong();
  private int keys = 1000;

  @Override
  public void configure(Map<String, ?> configs) {
    Object value = configs.get("troupe.bench.keys");
    if (value != null) keys = Integer.parseInt(value.toString());
  }

  @Override
  public ProducerRecord<byte[], byte[]> onSend(ProducerRecord<byte[], byte[]> record) {
    byte[] key =
        Long.toString(next.getAndIncrement() % keys).getBytes(StandardCharsets.UTF_8);
    return new ProducerRecord<>(
        record.topic(), record.partition(), record.timestamp(), key, record.value(),
        record.headers());
  }

  @Override
  public void onAcknowledgement(RecordMetadata metadata, Exception exception) {}

  @Override
  public void close() {}
}
