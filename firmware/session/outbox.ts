// The outbox: queue entries not yet written on this connection (offline, or the
// in-flight window is full). Bounded by count and by bytes of encoded packets;
// a message that does not fit is refused with an error, never dropped silently.

/** '' if a packet of `len` bytes fits behind q[from..], else the error text. */
export const full = (q: any[][], from: number, len: number, count: number, bytes: number) => {
  let i = from;
  for (; i < q.length; i++) len += q[i][1].length;
  return q.length - from >= count || len > bytes ? 'outbox full (' + count + ' messages, ' + bytes + ' bytes)' : '';
};
