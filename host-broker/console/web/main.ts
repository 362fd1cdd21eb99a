// The hub console: a page served by the hub on its control listener. Tabs are
// views (views/*.ts); data comes from the control API and the live stream.
import { api, ApiError, whenUnauthorized } from './api';
import { $, h, mount } from './dom';
import { addEvents, addMessages, addSamples, changed, onChange, state, type Topic } from './state';
import { devicesView } from './views/devices';
import { eventsView } from './views/events';
import { hilView } from './views/hil';
import { messagesView } from './views/messages';
import { plotsView } from './views/plots';
import { routesView } from './views/routes';
import { topicsView } from './views/topics';

export interface View {
  id: string;
  title: string;
  /** Data this view shows: a change redraws it while it is open. */
  deps: Topic[];
  /** Builds the view's controls in `root` (once per visit). */
  enter(root: HTMLElement): void;
  /** Redraws what changes. */
  update(): void;
  leave?(): void;
}

const views: View[] = [devicesView, topicsView, messagesView, eventsView, routesView, plotsView, hilView];
let current: View | undefined;
let live: EventSource | undefined;
let dirty = false;
let lastDraw = 0;

function draw(): void {
  if (!current || !dirty) return;
  // At most 4 redraws a second: a busy hub must not keep the phone's CPU busy.
  const wait = 250 - (performance.now() - lastDraw);
  if (wait > 0) { setTimeout(draw, wait); return; }
  dirty = false;
  lastDraw = performance.now();
  current.update();
}

onChange((what) => {
  if (what === 'live') renderLive();
  if (current && current.deps.includes(what) && !dirty) { dirty = true; requestAnimationFrame(draw); }
});

function renderLive(): void {
  const el = $('#live')!;
  el.textContent = state.live ? 'live' : 'offline';
  el.className = `live ${state.live ? 'on' : 'off'}`;
}

function show(id: string): void {
  const v = views.find((x) => x.id === id) ?? views[0];
  current?.leave?.();
  current = v;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.getAttribute('href') === `#${v.id}`);
  const root = h('section', { id: `view-${v.id}`, class: 'view' });
  mount($('#main')!, root);
  v.enter(root);
  dirty = false;
  v.update();
}

async function loadAll(): Promise<void> {
  const [devices, topics, events, series] = await Promise.all([
    api('GET', '/console/devices'), api('GET', '/topics'), api('GET', '/events'), api('GET', '/series'),
  ]);
  state.devices = devices;
  state.topics = new Map(topics.map((t: any) => [t.topic, t]));
  state.events = events;
  state.series = new Map(series.map((s: any) => [s.topic, s]));
  try { state.routes = await api('GET', '/routes'); } catch (err) { if (!(err instanceof ApiError && err.status === 404)) throw err; state.routes = null; }
}

function connectLive(): void {
  live?.close();
  const es = new EventSource('/live');
  live = es;
  es.addEventListener('open', () => { state.live = true; changed('live'); });
  es.addEventListener('devices', (e) => { state.devices = JSON.parse((e as MessageEvent).data); changed('devices'); });
  es.addEventListener('routes', (e) => { state.routes = JSON.parse((e as MessageEvent).data); changed('routes'); });
  es.addEventListener('batch', (e) => {
    const b = JSON.parse((e as MessageEvent).data);
    if (b.messages.length || b.skipped) addMessages(b.messages, b.skipped);
    if (b.events.length) addEvents(b.events);
    addSamples(b.samples);
  });
  es.addEventListener('error', () => {
    state.live = false;
    changed('live');
    if (es.readyState !== EventSource.CLOSED) return; // the browser retries by itself
    // Closed for good: logged out, or the hub went away. Ask which, then retry or log in.
    setTimeout(() => { api('GET', '/health').then(() => start(), () => undefined); }, 2000);
  });
}

function loginView(message = ''): void {
  live?.close();
  state.live = false;
  changed('live');
  current = undefined;
  $('#logout')!.hidden = true;
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', required: true, placeholder: 'token', 'aria-label': 'token' });
  const err = h('p', { class: 'error', role: 'alert' }, message);
  const form = h('form', { id: 'login', class: 'login', onsubmit: async (e: Event) => {
    e.preventDefault();
    try {
      await api('POST', '/login', { token: input.value });
      await start();
    } catch (x: any) { err.textContent = x.message; }
  } },
  h('h1', null, 'hub console'),
  h('p', null, 'Give the hub\'s control token: host-broker printed it at its first start (npm start prints it every time).'),
  input, h('button', { type: 'submit' }, 'log in'), err);
  mount($('#main')!, form);
  input.focus();
}

async function start(): Promise<void> {
  try {
    await loadAll();
  } catch (err: any) {
    if (err instanceof ApiError && err.status === 401) return loginView();
    mount($('#main')!, h('p', { class: 'error' }, `cannot reach the hub: ${err.message}`), h('button', { onclick: () => start() }, 'retry'));
    return;
  }
  $('#logout')!.hidden = false;
  connectLive();
  show(location.hash.slice(1));
}

function boot(): void {
  mount($('#nav')!, views.map((v) => h('a', { href: `#${v.id}` }, v.title)));
  window.addEventListener('hashchange', () => { if (current) show(location.hash.slice(1)); });
  whenUnauthorized(() => { if (current) loginView('The session ended: log in again.'); });
  $('#logout')!.addEventListener('click', async () => { await api('POST', '/logout').catch(() => undefined); loginView(); });
  // `npm start -- --open` hands the token over in the fragment, which never reaches a server or a log.
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    history.replaceState(null, '', location.pathname);
    api('POST', '/login', { token: decodeURIComponent(m[1]) }).then(() => start(), (err) => loginView(err.message));
  } else void start();
}

boot();
