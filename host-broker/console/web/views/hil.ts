// HIL: the control API's fault rules (add, remove), refusing connections, and
// the packet transcripts of each client.
import { api, enc } from '../api';
import { h, mount, table, toast } from '../dom';
import { clock } from '../format';
import type { View } from '../main';

const CMDS = ['*', 'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect'];
let faultsBox: HTMLElement;
let transcriptBox: HTMLElement;
let clientSelect: HTMLSelectElement;
let timer: number | undefined;

async function loadFaults(): Promise<void> {
  const faults = await api<any[]>('GET', '/faults');
  mount(faultsBox, table(['rule', 'client', 'packet', 'action', 'left', ''], faults.map((f) => h('tr', null,
    h('td', null, f.id), h('td', null, f.clientId ?? 'any'), h('td', null, `${f.cmd} ${f.direction === 'in' ? 'from' : 'to'} the client`),
    h('td', null, f.action + (f.ms ? ` ${f.ms} ms` : '')), h('td', null, `${f.remaining} of ${f.count}`),
    h('td', null, h('button', { onclick: async () => { await api('DELETE', `/faults/${f.id}`).catch((e) => toast(e.message, true)); void loadFaults(); } }, 'remove')))),
  'No fault rules.'));
}

function faultForm(): HTMLElement {
  const sel = (name: string, opts: string[]) => h('select', { name }, opts.map((o) => h('option', { value: o }, o)));
  const f = h('form', { class: 'panel grid' },
    h('label', null, 'client id', h('input', { name: 'clientId', placeholder: 'any client' })),
    h('label', null, 'direction', sel('direction', ['out', 'in'])),
    h('label', null, 'packet', sel('cmd', CMDS)),
    h('label', null, 'action', sel('action', ['drop', 'delay', 'disconnect'])),
    h('label', null, 'count', h('input', { name: 'count', type: 'number', min: 1, value: 1 })),
    h('label', null, 'delay ms', h('input', { name: 'ms', type: 'number', min: 0, value: 1000 })),
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'add fault rule')));
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = (n: string) => (f.elements.namedItem(n) as HTMLInputElement).value;
    const spec: Record<string, unknown> = { direction: v('direction'), cmd: v('cmd'), action: v('action'), count: Number(v('count')) };
    if (v('clientId').trim()) spec.clientId = v('clientId').trim();
    if (spec.action === 'delay') spec.ms = Number(v('ms'));
    try { await api('POST', '/faults', spec); toast('fault rule added'); void loadFaults(); } catch (err: any) { toast(err.message, true); }
  });
  return f;
}

function detail(e: any): string {
  const parts: string[] = [];
  if (e.topic !== undefined) parts.push(e.topic);
  if (e.messageId !== undefined) parts.push(`id ${e.messageId}`);
  if (e.qos !== undefined) parts.push(`QoS ${e.qos}`);
  if (e.dup) parts.push('DUP');
  if (e.retain) parts.push('retain');
  if (e.payloadBytes !== undefined) parts.push(`${e.payloadBytes} B ${String(e.payload ?? '').slice(0, 80)}${e.payloadBytes > 80 ? '…' : ''}`);
  if (e.returnCode !== undefined) parts.push(`rc ${e.returnCode}`);
  if (e.clientId !== undefined && e.cmd === 'connect') parts.push(`client ${e.clientId}${e.clean ? ' clean' : ''} keepalive ${e.keepalive}`);
  if (e.granted) parts.push(`granted ${e.granted.join(',')}`);
  if (e.subscriptions) parts.push(e.subscriptions.map((s: any) => `${s.topic} q${s.qos}`).join(' '));
  return parts.join(' · ');
}

async function loadTranscript(): Promise<void> {
  const list = await api<{ clientId: string; entries: number }[]>('GET', '/transcripts');
  const chosen = clientSelect.value || list[0]?.clientId || '';
  mount(clientSelect, list.map((c) => h('option', { value: c.clientId, selected: c.clientId === chosen }, `${c.clientId} (${c.entries})`)));
  if (!chosen) { mount(transcriptBox, h('p', { class: 'muted' }, 'No transcripts yet: they start when a client connects.')); return; }
  const t = await api('GET', `/clients/${enc(chosen)}/transcript`);
  mount(transcriptBox, table(['seq', 'time', '', 'packet', 'details', 'fault'], t.entries.slice(-200).reverse().map((e: any) => h('tr', { class: e.fault ? 'fault' : '' },
    h('td', null, e.seq), h('td', { class: 'nowrap' }, clock(e.time)), h('td', null, e.dir === 'in' ? '→ hub' : '← hub'),
    h('td', null, e.cmd), h('td', null, detail(e)), h('td', null, e.fault ?? ''))), 'No packets.'));
}

export const hilView: View = {
  id: 'hil',
  title: 'HIL',
  deps: [],
  enter(root) {
    faultsBox = h('div');
    transcriptBox = h('div');
    clientSelect = h('select', { 'aria-label': 'client', onchange: () => void loadTranscript() });
    const refuseMs = h('input', { type: 'number', min: 0, value: 5000, 'aria-label': 'refuse for ms' });
    root.append(
      h('div', { class: 'toolbar' }, h('h2', null, 'Fault rules')), faultForm(), faultsBox,
      h('div', { class: 'toolbar' }, h('span', null, 'refuse new connections for'), refuseMs, h('span', null, 'ms'),
        h('button', { onclick: async () => {
          try { const r = await api('POST', '/refuse-connections', { ms: Number(refuseMs.value) }); toast(`refusing for ${r.refusingForMs} ms`); } catch (err: any) { toast(err.message, true); }
        } }, 'refuse')),
      h('div', { class: 'toolbar' }, h('h2', null, 'Transcript'), clientSelect, h('button', { onclick: () => void loadTranscript() }, 'refresh')), transcriptBox);
    // Transcripts and rules change with every packet: refresh while the view is open, not on every packet.
    timer = window.setInterval(() => { void loadFaults().catch(() => undefined); }, 3000);
  },
  update() {
    void loadFaults().catch((err) => toast(err.message, true));
    void loadTranscript().catch((err) => toast(err.message, true));
  },
  leave() { if (timer) clearInterval(timer); },
};
