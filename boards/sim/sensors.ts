// Sensor readings for simulated boards: each board gets its own plausible
// temperature from a seed (its device id), so a fleet's plots differ the way
// real rooms do: a base level per board, a slow daily swing with its own phase,
// a mean-reverting drift (weather, heating) and a little sensor noise.
// The same seed and clock give the same readings.

/** A small seeded PRNG (mulberry32) from a string: uniform in [0, 1). */
export function prng(seed: string): () => number {
  let a = 0x9e3779b9;
  for (let i = 0; i < seed.length; i++) a = Math.imul(a ^ seed.charCodeAt(i), 0x85ebca6b) >>> 0;
  return mulberry32(a);
}

/** mulberry32 from a 32-bit seed: small, fast, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal from two uniforms (Box-Muller). */
function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export interface TemperatureModel {
  /** Mean level, °C. */
  base: number;
  /** Half the daily swing, °C. */
  swing: number;
  /** Length of one swing; a day by default, shortened in demos so it shows. */
  periodMs: number;
  phase: number;
  /** Drift: how far it wanders (°C, its standard deviation) and how fast it returns (ms). */
  driftSd: number;
  driftReturnMs: number;
  /** Sensor noise, °C standard deviation. */
  noiseSd: number;
}

/** The model a seed gives: bases 18..27 °C, swings 0.5..2.5 °C, drift up to 1.5 °C, noise 0.05..0.2 °C. */
export function temperatureModel(seed: string, periodMs = 10 * 60_000): TemperatureModel {
  const r = prng(`temperature:${seed}`);
  return {
    base: 18 + 9 * r(),
    swing: 0.5 + 2 * r(),
    periodMs: periodMs * (0.8 + 0.4 * r()),
    phase: 2 * Math.PI * r(),
    driftSd: 0.3 + 1.2 * r(),
    driftReturnMs: 60_000 + 240_000 * r(),
    noiseSd: 0.05 + 0.15 * r(),
  };
}

/**
 * E.getTemperature() for one board: base + swing·sin + drift + noise. The drift is
 * an Ornstein-Uhlenbeck walk stepped by the time since the last reading, so it
 * reads the same whether a board samples every 100 ms or every minute.
 */
export function seededTemperature(seed: string, opts: { now?: () => number; periodMs?: number } = {}): () => number {
  const now = opts.now ?? Date.now;
  const m = temperatureModel(seed, opts.periodMs);
  const rand = prng(`noise:${seed}`);
  const start = now();
  let last = start;
  let drift = m.driftSd * gauss(rand);
  return () => {
    const t = now();
    const dt = Math.max(0, t - last);
    last = t;
    // Exact OU step: keep e^(-dt/tau) of the drift, add noise that keeps its variance at driftSd².
    const keep = Math.exp(-dt / m.driftReturnMs);
    drift = drift * keep + m.driftSd * Math.sqrt(1 - keep * keep) * gauss(rand);
    const value = m.base + m.swing * Math.sin(2 * Math.PI * (t - start) / m.periodMs + m.phase) + drift + m.noiseSd * gauss(rand);
    return Math.round(value * 100) / 100;
  };
}
