// A few DOM helpers instead of a framework: h() builds elements, mount() swaps
// a container's content.
type Child = Node | string | number | null | undefined | false | Child[];
type Props = Record<string, unknown> | null;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v as EventListener);
    else if (k === 'class') el.className = String(v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'hidden' || k === 'selected') (el as any)[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

export function mount(container: Element, ...children: Child[]): void {
  container.textContent = '';
  append(container, children);
}

export const $ = <T extends Element = HTMLElement>(sel: string, root: ParentNode = document) => root.querySelector(sel) as T | null;

/** A table that turns into labelled cards on a narrow screen (see .cards in style.css). */
export function table(headers: string[], rows: HTMLTableRowElement[], empty = 'nothing yet'): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'muted' }, empty);
  for (const r of rows) {
    Array.from(r.cells).forEach((td, i) => { if (!td.hasAttribute('data-label')) td.setAttribute('data-label', headers[i] ?? ''); });
  }
  return h('div', { class: 'scroll' }, h('table', { class: 'cards' }, h('thead', null, h('tr', null, headers.map((x) => h('th', null, x)))), h('tbody', null, rows)));
}

export function toast(text: string, bad = false): void {
  const t = h('div', { class: `toast${bad ? ' bad' : ''}`, role: 'status' }, text);
  document.body.appendChild(t);
  setTimeout(() => t.remove(), bad ? 6000 : 3000);
}
