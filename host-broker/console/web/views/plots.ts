// Telemetry plots: one numeric field of JSON payloads over time, one line per
// topic (per device for devices/<id>/telemetry), drawn by uPlot.
import uPlot from 'uplot';
import { h, mount } from '../dom';
import { state, type Series } from '../state';
import type { View } from '../main';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];
let chartBox: HTMLElement;
let fieldSelect: HTMLSelectElement;
let info: HTMLElement;
let field = '';
let plot: uPlot | undefined;
let plotKey = '';
let resize: (() => void) | undefined;

function fieldsOf(series: Series[]): string[] {
  const all = new Set<string>();
  for (const s of series) for (const k of Object.keys(s.fields)) all.add(k);
  return [...all].sort();
}

/** One x axis for every line (seconds), each line null where it has no sample. */
export function align(series: Series[], name: string): { data: uPlot.AlignedData; points: number } {
  const times = [...new Set(series.flatMap((s) => s.time))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  let points = 0;
  const cols = series.map((s) => {
    const col: (number | null)[] = new Array(times.length).fill(null);
    const src = s.fields[name] ?? [];
    s.time.forEach((t, i) => { const v = src[i]; if (v !== null && v !== undefined) { col[index.get(t)!] = v; points++; } });
    return col;
  });
  return { data: [times.map((t) => t / 1000), ...cols] as uPlot.AlignedData, points };
}

const label = (s: Series) => { const m = /^devices\/([^/]+)\//.exec(s.topic); return m ? m[1] : s.topic; };

function draw(): void {
  const series = [...state.series.values()];
  const fields = fieldsOf(series);
  if (!field || !fields.includes(field)) field = fields.includes('temp') ? 'temp' : fields[0] ?? '';
  if (fieldSelect.options.length !== fields.length || [...fieldSelect.options].some((o, i) => o.value !== fields[i])) {
    mount(fieldSelect, fields.map((f) => h('option', { value: f, selected: f === field }, f)));
  }
  const shown = series.filter((s) => s.fields[field]).sort((a, b) => label(a).localeCompare(label(b)));
  if (!field || shown.length === 0) {
    plot?.destroy(); plot = undefined; plotKey = '';
    mount(chartBox, h('p', { class: 'muted' }, 'No numeric JSON fields seen yet: plots appear when devices publish JSON such as {"temp": 21.5}.'));
    info.textContent = '';
    return;
  }
  const { data, points } = align(shown, field);
  chartBox.dataset.points = String(points);
  chartBox.dataset.field = field;
  info.textContent = `${field}: ${shown.length} series, ${points} points`;
  const key = field + '|' + shown.map((s) => s.topic).join(',');
  const width = Math.max(280, chartBox.clientWidth || 600);
  if (plot && key === plotKey) { plot.setData(data); return; }
  plot?.destroy();
  mount(chartBox);
  plotKey = key;
  plot = new uPlot({
    width, height: Math.round(Math.min(420, Math.max(220, width * 0.55))),
    series: [{}, ...shown.map((s, i) => ({ label: label(s), stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, points: { show: false } }))],
    axes: [{}, { label: field, size: 60 }],
    scales: { x: { time: true } },
    legend: { live: true },
  }, data, chartBox);
}

export const plotsView: View = {
  id: 'plots',
  title: 'Plots',
  deps: ['series'],
  enter(root) {
    chartBox = h('div', { class: 'chart', id: 'chart' });
    info = h('span', { class: 'muted' });
    fieldSelect = h('select', { 'aria-label': 'field', onchange: (e: Event) => { field = (e.target as HTMLSelectElement).value; draw(); } });
    root.append(h('div', { class: 'toolbar' }, h('h2', null, 'Telemetry'), fieldSelect, info), chartBox);
    resize = () => { if (plot) plot.setSize({ width: Math.max(280, chartBox.clientWidth), height: plot.height }); };
    window.addEventListener('resize', resize);
  },
  update: draw,
  leave() {
    if (resize) window.removeEventListener('resize', resize);
    plot?.destroy();
    plot = undefined;
    plotKey = '';
  },
};
