// Devices: registered devices and clients that connected without one; online,
// last seen, address, session; enable, disable, add, remove, certificate.
import { api, enc } from '../api';
import { h, mount, table, toast } from '../dom';
import { ago } from '../format';
import { changed, state, type DeviceRow } from '../state';
import type { View } from '../main';

let body: HTMLElement;
let certBox: HTMLElement;
let ticker: number | undefined;

function status(d: DeviceRow): HTMLElement {
  const s = d.online ? 'online' : 'offline';
  return h('span', { class: 'row' }, h('span', { class: `badge ${s}`, title: d.disconnectReason ?? '' }, s),
    d.enabled ? null : h('span', { class: 'badge disabled' }, 'disabled'));
}

async function act(what: string, fn: () => Promise<unknown>): Promise<void> {
  try { await fn(); toast(what); } catch (err: any) { toast(`${what}: ${err.message}`, true); }
}

function download(name: string, text: string): HTMLElement {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/x-pem-file' }));
  return h('a', { href: url, download: name, class: 'button' }, name);
}

async function certificate(id: string): Promise<void> {
  if (!confirm(`Issue a new certificate for ${id}? It is pinned: the device's earlier certificates stop working.`)) return;
  try {
    const c = await api('POST', `/devices/${enc(id)}/certificate`, {});
    mount(certBox, h('div', { class: 'panel' },
      h('strong', null, `certificate for ${id}`), ` valid until ${c.notAfter.slice(0, 10)}, fingerprint ${c.fingerprint256.slice(0, 23)}…`,
      h('p', { class: 'muted' }, 'The key is shown only now: download it and keep it on the device.'),
      h('div', { class: 'row' }, download(`${id}.cert.pem`, c.certPem), download(`${id}.key.pem`, c.keyPem), download('ca.cert.pem', c.caPem)),
      h('button', { class: 'link', onclick: () => mount(certBox) }, 'close')));
  } catch (err: any) { toast(`certificate: ${err.message}`, true); }
}

function actions(d: DeviceRow): HTMLElement {
  const b: HTMLElement[] = [];
  if (d.registered) {
    b.push(d.enabled
      ? h('button', { 'data-action': 'disable', onclick: () => act(`disabled ${d.id}`, () => api('POST', `/devices/${enc(d.id)}/disable`)) }, 'disable')
      : h('button', { 'data-action': 'enable', onclick: () => act(`enabled ${d.id}`, () => api('POST', `/devices/${enc(d.id)}/enable`)) }, 'enable'));
    b.push(h('button', { 'data-action': 'certificate', onclick: () => certificate(d.id) }, 'certificate'));
    b.push(h('button', { 'data-action': 'remove', class: 'danger', onclick: () => {
      if (confirm(`Remove device ${d.id}? Its clients are disconnected and refused from now on.`)) void act(`removed ${d.id}`, () => api('DELETE', `/devices/${enc(d.id)}`));
    } }, 'remove'));
  }
  if (d.online && d.clientId) {
    const cid = d.clientId;
    b.push(h('button', { 'data-action': 'disconnect', onclick: () => act(`disconnected ${cid}`, () => api('POST', `/clients/${enc(cid)}/disconnect`, { abrupt: false })) }, 'disconnect'));
  }
  return h('div', { class: 'row' }, b);
}

function addForm(): HTMLElement {
  const f = h('form', { class: 'panel grid', id: 'add-device', hidden: true },
    h('label', null, 'id', h('input', { name: 'id', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,127}', placeholder: 'garage-door' })),
    h('label', null, 'name', h('input', { name: 'name', placeholder: 'optional' })),
    h('label', null, 'user name', h('input', { name: 'username', autocomplete: 'off' })),
    h('label', null, 'password', h('input', { name: 'password', type: 'password', autocomplete: 'new-password' })),
    h('label', { class: 'check' }, h('input', { name: 'requireTls', type: 'checkbox' }), 'TLS with its certificate only'),
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'add'), h('button', { type: 'button', class: 'link', onclick: () => { f.hidden = true; } }, 'cancel')));
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = (n: string) => (f.elements.namedItem(n) as HTMLInputElement);
    const body = { id: v('id').value.trim(), name: v('name').value, username: v('username').value, password: v('password').value, requireTls: v('requireTls').checked };
    try {
      await api('POST', '/devices', body);
      toast(`added ${body.id}`);
      f.reset();
      f.hidden = true;
    } catch (err: any) { toast(`add: ${err.message}`, true); }
  });
  return f;
}

export const devicesView: View = {
  id: 'devices',
  title: 'Devices',
  deps: ['devices'],
  enter(root) {
    body = h('div');
    certBox = h('div');
    const form = addForm();
    root.append(
      h('div', { class: 'toolbar' }, h('h2', null, 'Devices'), h('button', { onclick: () => { form.hidden = !form.hidden; } }, 'add device')),
      form, certBox, body);
    // "last seen 3 min ago" ages even when nothing changes.
    ticker = window.setInterval(() => changed('devices'), 10_000);
  },
  leave() { if (ticker) clearInterval(ticker); },
  update() {
    const online = state.devices.filter((d) => d.online).length;
    const rows = state.devices.map((d) => h('tr', { 'data-id': d.id, class: d.online ? 'is-online' : 'is-offline' },
      h('td', null, status(d)),
      h('td', null, h('strong', null, d.id), d.name ? h('div', { class: 'muted' }, d.name) : null, d.registered ? null : h('div', { class: 'muted' }, 'no device (anonymous)')),
      h('td', null, d.clientId ?? '–'),
      h('td', null, d.remoteAddress ? `${d.remoteAddress} (${d.listener})` : '–'),
      h('td', { title: d.lastSeen ? new Date(d.lastSeen).toLocaleString() : '' }, d.online ? 'now' : ago(d.lastSeen)),
      h('td', null, d.session ? `${d.session.persistent ? 'persistent' : 'clean'}, ${d.session.queued} queued, ${d.session.inflight} in flight` : '–'),
      h('td', null, actions(d))));
    mount(body, h('p', { class: 'muted' }, `${online} of ${state.devices.length} online`),
      table(['status', 'device', 'client id', 'address', 'last seen', 'session', ''], rows, 'No devices yet: add one, or connect a board.'));
  },
};
