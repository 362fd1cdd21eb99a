// Messages: the live tail, newest first, with a topic-filter box and pause.
import { checkFilter, topicMatches } from '../../../../firmware/topic';
import { h, mount, table } from '../dom';
import { clock, showPayload, type PayloadMode } from '../format';
import { state, type Message } from '../state';
import type { View } from '../main';

const SHOWN = 200;
let body: HTMLElement;
let filter = '#';
let filterError = '';
let mode: PayloadMode = 'auto';
let paused = false;
/** The last seq shown when pause was pressed: later messages wait. */
let pausedAt = 0;
let clearedAt = 0;

function matches(m: Message): boolean {
  if (m.seq <= clearedAt) return false;
  return filterError === '' && topicMatches(filter, m.topic);
}

function draw(): void {
  const all = state.messages.filter(matches);
  const shown = (paused ? all.filter((m) => m.seq <= pausedAt) : all).slice(-SHOWN).reverse();
  const waiting = paused ? all.filter((m) => m.seq > pausedAt).length : 0;
  const rows = shown.map((m) => {
    const p = showPayload(m.payloadBase64, m.bytes, mode);
    return h('tr', { 'data-topic': m.topic },
      h('td', { class: 'nowrap' }, clock(m.time)),
      h('td', { class: 'topic' }, m.topic),
      h('td', null, `${m.qos}${m.retain ? ' R' : ''}`),
      h('td', null, m.from ?? 'hub'),
      h('td', null, h('code', { class: p.hex ? 'payload hex' : 'payload' }, p.text.length > 300 ? p.text.slice(0, 300) + '…' : p.text), h('span', { class: 'muted' }, ` ${m.bytes} B`)));
  });
  mount(body,
    filterError ? h('p', { class: 'error' }, filterError) : null,
    h('p', { class: 'muted' }, paused ? `paused: ${waiting} new message(s) waiting` : `newest first, the last ${SHOWN} shown`,
      state.skipped ? ` · ${state.skipped} left out by the hub (too many at once)` : ''),
    table(['time', 'topic', 'QoS', 'from', 'payload'], rows, 'No messages yet.'));
}

export const messagesView: View = {
  id: 'messages',
  title: 'Messages',
  deps: ['messages'],
  enter(root) {
    body = h('div');
    const pause = h('button', { id: 'pause', 'aria-pressed': String(paused), onclick: () => {
      paused = !paused;
      pausedAt = state.messages.length ? state.messages[state.messages.length - 1].seq : 0;
      pause.textContent = paused ? 'resume' : 'pause';
      pause.setAttribute('aria-pressed', String(paused));
      draw();
    } }, paused ? 'resume' : 'pause');
    root.append(h('div', { class: 'toolbar' }, h('h2', null, 'Messages'),
      h('input', { id: 'filter', type: 'search', value: filter, placeholder: 'topic filter, e.g. devices/+/telemetry', 'aria-label': 'topic filter', oninput: (e: Event) => {
        filter = (e.target as HTMLInputElement).value.trim() || '#';
        filterError = checkFilter(filter) ?? '';
        draw();
      } }),
      h('select', { 'aria-label': 'payload as', onchange: (e: Event) => { mode = (e.target as HTMLSelectElement).value as PayloadMode; draw(); } },
        (['auto', 'text', 'hex'] as const).map((m) => h('option', { value: m, selected: m === mode }, m === 'auto' ? 'text or hex' : m))),
      pause,
      h('button', { class: 'link', onclick: () => { clearedAt = state.messages.length ? state.messages[state.messages.length - 1].seq : 0; draw(); } }, 'clear')), body);
  },
  update: draw,
};
