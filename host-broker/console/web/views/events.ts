// Hub events: what went wrong (refused logins, unauthorized topics, route
// failures, ...), live, filtered by severity and kind.
import { h, mount, table } from '../dom';
import { clock } from '../format';
import { state } from '../state';
import type { View } from '../main';

let body: HTMLElement;
let kinds: HTMLSelectElement;
let severity = '';
let kind = '';

function draw(): void {
  const seen = [...new Set(state.events.map((e) => e.kind))].sort();
  if (kinds.options.length !== seen.length + 1) {
    mount(kinds, h('option', { value: '' }, 'every kind'), seen.map((k) => h('option', { value: k, selected: k === kind }, k)));
  }
  const list = state.events.filter((e) => (!severity || e.severity === severity) && (!kind || e.kind === kind)).slice(-300).reverse();
  mount(body, h('p', { class: 'muted' }, `${list.length} of ${state.events.length} events`),
    table(['time', 'severity', 'kind', 'object', 'message'], list.map((e) => h('tr', { 'data-kind': e.kind, 'data-severity': e.severity },
      h('td', { class: 'nowrap', title: new Date(e.time).toLocaleString() }, clock(e.time)),
      h('td', null, h('span', { class: `badge ${e.severity}` }, e.severity)),
      h('td', null, e.kind),
      h('td', null, `${e.objectType} ${e.objectId}`),
      h('td', null, e.message))), 'No hub events: nothing went wrong.'));
}

export const eventsView: View = {
  id: 'events',
  title: 'Events',
  deps: ['events'],
  enter(root) {
    body = h('div');
    kinds = h('select', { 'aria-label': 'kind', onchange: (e: Event) => { kind = (e.target as HTMLSelectElement).value; draw(); } });
    root.append(h('div', { class: 'toolbar' }, h('h2', null, 'Hub events'),
      h('select', { 'aria-label': 'severity', onchange: (e: Event) => { severity = (e.target as HTMLSelectElement).value; draw(); } },
        ['', 'info', 'warning', 'error'].map((s) => h('option', { value: s, selected: s === severity }, s || 'every severity'))),
      kinds), body);
  },
  update: draw,
};
