// Counters the broker bumps as traffic passes: plain numbers, so the hot path
// pays an increment and nothing else. Metrics (Prometheus, $SYS topics) read
// them when asked; see host-broker/metrics/.
export class BrokerStats {
  readonly startedAt = Date.now();
  /** Sockets accepted (before CONNECT), since start. */
  socketsAccepted = 0;
  /** CONNECTs accepted, since start. */
  connectsAccepted = 0;
  /** MQTT packets of every type. */
  packetsReceived = 0;
  packetsSent = 0;
  /** PUBLISH packets by QoS (index 0..2). */
  readonly publishReceived = [0, 0, 0];
  readonly publishSent = [0, 0, 0];
  /** PUBLISH payload bytes. */
  publishBytesReceived = 0;
  publishBytesSent = 0;
  /** Bytes on the wire (after TLS/WebSocket framing is removed). */
  bytesReceived = 0;
  bytesSent = 0;
  /** Deliveries not made: a subscriber's queue was full (QoS 1/2), or its socket had a backlog (QoS 0). */
  droppedQueueFull = 0;
  droppedBacklog = 0;

  get publishDropped(): number { return this.droppedQueueFull + this.droppedBacklog; }
}
