// Payloads as text or hex, and times as people read them.

export function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const strict = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 text without control characters (tab, CR and LF allowed), else null. */
export function asText(bytes: Uint8Array): string | null {
  let s: string;
  try { s = strict.decode(bytes); } catch { return null; }
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s) ? null : s;
}

export function asHex(bytes: Uint8Array, max = 256): string {
  const parts: string[] = [];
  for (let i = 0; i < Math.min(bytes.length, max); i++) parts.push(bytes[i].toString(16).padStart(2, '0'));
  return parts.join(' ') + (bytes.length > max ? ' …' : '');
}

export type PayloadMode = 'auto' | 'text' | 'hex';

/** How a payload reads: text when it is text (or asked for), hex otherwise; `shown` < `bytes` when cut. */
export function showPayload(b64: string, bytes: number, mode: PayloadMode): { text: string; hex: boolean } {
  const b = fromBase64(b64);
  const cut = bytes > b.length ? ' …' : '';
  if (mode !== 'hex') {
    const t = asText(b);
    if (t !== null) return { text: t + cut, hex: false };
    if (mode === 'text') return { text: new TextDecoder().decode(b) + cut, hex: false };
  }
  return { text: asHex(b) + cut, hex: true };
}

export function clock(ms: number): string {
  const d = new Date(ms);
  return d.toTimeString().slice(0, 8) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

export function ago(ms: number | undefined, now = Date.now()): string {
  if (!ms) return '–';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 2) return 'just now';
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return new Date(ms).toLocaleDateString();
}
