// Whether an acknowledgement from a client is the right type for the message the
// hub has in flight under that packet id. A QoS 1 delivery is answered with
// PUBACK [MQTT-4.3.2-2]; a QoS 2 one with PUBREC, and the hub's PUBREL with
// PUBCOMP [MQTT-4.3.3-2]. Anything else is a protocol violation and closes the
// connection [MQTT-4.8.0-1]: a firmware that mixes up its acknowledgements
// would otherwise look as if it worked. An id with nothing in flight is not a
// violation (the flow may belong to a session the hub no longer has).
import type { Session } from '../session';

export type AckCmd = 'puback' | 'pubrec' | 'pubcomp';

/** The rule the acknowledgement breaks, as a message; null if it is the right type (or the id is unknown). */
export function ackViolation(session: Session, cmd: AckCmd, packetId: number): string | null {
  const m = session.inflightMessage(packetId);
  if (!m) return null;
  const name = cmd.toUpperCase();
  if (m.qos === 1) {
    return cmd === 'puback' ? null : `${name} for packet id ${packetId}, a QoS 1 message: QoS 1 is acknowledged with PUBACK [MQTT-4.3.2-2]`;
  }
  if (cmd === 'pubrec') return null; // first or repeated: answered with PUBREL either way
  if (m.state === 'sent') {
    return `${name} for packet id ${packetId}, a QoS 2 message waiting for PUBREC: QoS 2 is acknowledged with PUBREC, then PUBCOMP answers the hub's PUBREL [MQTT-4.3.3-2]`;
  }
  return cmd === 'pubcomp' ? null : `PUBACK for packet id ${packetId}, a QoS 2 message waiting for PUBCOMP: the hub's PUBREL is answered with PUBCOMP [MQTT-4.3.3-2]`;
}
