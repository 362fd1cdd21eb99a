// Topics: the tree of every topic seen (and the retained ones from before),
// each leaf with its last value, when it came and whether it is retained.
import { h, mount } from '../dom';
import { ago, showPayload, type PayloadMode } from '../format';
import { state, type TopicValue } from '../state';
import type { View } from '../main';

interface Node { name: string; path: string; children: Map<string, Node>; value?: TopicValue; count: number }

let body: HTMLElement;
let search = '';
let mode: PayloadMode = 'auto';
/** Levels the user opened or closed, so a redraw keeps them. */
const open = new Map<string, boolean>();

export function buildTree(values: Iterable<TopicValue>): Node {
  const root: Node = { name: '', path: '', children: new Map(), count: 0 };
  for (const v of values) {
    let n = root;
    n.count++;
    const levels = v.topic.split('/');
    levels.forEach((name, i) => {
      const path = levels.slice(0, i + 1).join('/');
      let c = n.children.get(name);
      if (!c) n.children.set(name, c = { name, path, children: new Map(), count: 0 });
      c.count++;
      n = c;
    });
    n.value = v;
  }
  return root;
}

function leaf(v: TopicValue): HTMLElement {
  const p = showPayload(v.payloadBase64, v.bytes, mode);
  return h('span', { class: 'value' },
    h('code', { class: p.hex ? 'payload hex' : 'payload' }, p.text.length > 160 ? p.text.slice(0, 160) + '…' : p.text),
    h('span', { class: 'muted', title: new Date(v.time).toLocaleString() }, ` ${ago(v.time)} · ${v.bytes} B · QoS ${v.qos}`),
    v.retain ? h('span', { class: 'badge retained', title: 'retained' }, 'retained') : null);
}

function renderNode(n: Node, depth: number): HTMLElement {
  const kids = [...n.children.values()].sort((a, b) => a.name.localeCompare(b.name));
  const label = h('span', { class: 'level' }, n.name === '' ? '(empty)' : n.name);
  if (kids.length === 0) return h('li', { 'data-topic': n.path, class: 'leaf' }, label, ' ', n.value ? leaf(n.value) : null);
  const isOpen = open.get(n.path) ?? (depth < 2 || search !== '');
  const d = h('details', { open: isOpen }, h('summary', null, label, h('span', { class: 'muted' }, ` ${n.count}`), n.value ? h('span', null, ' ', leaf(n.value)) : null),
    h('ul', null, isOpen ? kids.map((k) => renderNode(k, depth + 1)) : []));
  // 'toggle' also fires for the open attribute set just above: act only on a real change.
  d.addEventListener('toggle', () => {
    if (d.open === isOpen) return;
    open.set(n.path, d.open);
    if (d.open) draw();
  });
  return h('li', { 'data-topic': n.path }, d);
}

function draw(): void {
  const values = [...state.topics.values()].filter((v) => search === '' || v.topic.includes(search));
  const root = buildTree(values);
  mount(body, h('p', { class: 'muted' }, `${values.length} topics`),
    values.length ? h('ul', { class: 'tree' }, [...root.children.values()].sort((a, b) => a.name.localeCompare(b.name)).map((n) => renderNode(n, 0)))
      : h('p', { class: 'muted' }, 'No topics yet.'));
}

export const topicsView: View = {
  id: 'topics',
  title: 'Topics',
  deps: ['topics'],
  enter(root) {
    body = h('div');
    root.append(h('div', { class: 'toolbar' }, h('h2', null, 'Topics'),
      h('input', { type: 'search', placeholder: 'topic contains…', value: search, 'aria-label': 'topic contains', oninput: (e: Event) => { search = (e.target as HTMLInputElement).value; draw(); } }),
      h('select', { 'aria-label': 'payload as', onchange: (e: Event) => { mode = (e.target as HTMLSelectElement).value as PayloadMode; draw(); } },
        (['auto', 'text', 'hex'] as const).map((m) => h('option', { value: m, selected: m === mode }, m === 'auto' ? 'text or hex' : m)))), body);
  },
  update: draw,
};
