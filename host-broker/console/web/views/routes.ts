// Routes: state, backlog and counters of each route; dead letters with requeue.
import { api, enc } from '../api';
import { h, mount, table, toast } from '../dom';
import { ago, showPayload } from '../format';
import { state } from '../state';
import type { View } from '../main';

let body: HTMLElement;
let dead: HTMLElement;

async function showDead(name: string): Promise<void> {
  try {
    const r = await api('GET', `/routes/${enc(name)}/dead-letters?limit=100`);
    mount(dead, h('div', { class: 'panel' },
      h('div', { class: 'toolbar' }, h('strong', null, `dead letters of ${name}`),
        h('button', { disabled: r.deadLetters.length === 0, onclick: async () => {
          try { const x = await api('POST', `/routes/${enc(name)}/dead-letters/requeue`); toast(`requeued ${x.requeued}`); void showDead(name); } catch (err: any) { toast(err.message, true); }
        } }, 'requeue all'),
        h('button', { class: 'link', onclick: () => mount(dead) }, 'close')),
      table(['id', 'dead since', 'topic', 'attempts', 'error', 'payload'], r.deadLetters.map((d: any) => h('tr', null,
        h('td', null, d.id), h('td', null, ago(Date.parse(d.deadAt))), h('td', { class: 'topic' }, d.topic), h('td', null, d.attempts),
        h('td', null, d.error), h('td', null, h('code', { class: 'payload' }, showPayload(d.payloadBase64, 0, 'auto').text.slice(0, 120))))), 'No dead letters.')));
  } catch (err: any) { toast(err.message, true); }
}

export const routesView: View = {
  id: 'routes',
  title: 'Routes',
  deps: ['routes'],
  enter(root) {
    body = h('div');
    dead = h('div');
    root.append(h('div', { class: 'toolbar' }, h('h2', null, 'Routes')), dead, body);
  },
  update() {
    if (state.routes === null) { mount(body, h('p', { class: 'muted' }, 'Routes are not enabled on this hub.')); return; }
    mount(body, table(['route', 'state', 'backlog', 'dead letters', 'delivered', 'last error', ''], state.routes.map((r) => h('tr', { 'data-route': r.name },
      h('td', null, h('strong', null, r.name), h('div', { class: 'muted' }, `${r.type} · ${r.filter}`)),
      h('td', null, h('span', { class: `badge ${r.state}` }, r.state)),
      h('td', null, r.queueDepth),
      h('td', null, r.deadLetters),
      h('td', null, `${r.stats.delivered}${r.stats.lastDeliveredAt ? ` (last ${ago(Date.parse(r.stats.lastDeliveredAt))})` : ''}`),
      h('td', null, r.stats.lastError ? `${r.stats.lastError} (${ago(Date.parse(r.stats.lastErrorAt ?? ''))})` : '–'),
      h('td', null, h('button', { onclick: () => showDead(r.name) }, 'dead letters')))),
    'No routes: add them in the config file or with host-broker routes add.'));
  },
};
