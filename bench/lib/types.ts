// What every benchmark takes and gives back.
import type { Cell } from './table';

export interface BenchOptions {
  /** Rounds per comparison (each round runs baseline and ours, alternating the order). */
  rounds: number;
  /** Smaller sizes and shorter runs. */
  quick: boolean;
  /** Progress lines (stderr in the CLI). */
  log: (line: string) => void;
}

export interface TableOut { title: string; header: string[]; rows: Cell[][]; notes: string[] }

export interface BenchResult {
  name: string;
  /** Set when the benchmark could not run here, with the reason. */
  skipped?: string;
  tables: TableOut[];
  /** Raw figures for bench/results.json. */
  data: unknown;
}
