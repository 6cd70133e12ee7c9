// The paper kit's data: what the paper published (examples/paper/published.json) and
// what a kit run fetched or computed. The report is a pure function of the two.

/** One transcribed number of the paper, with where it comes from. */
export interface PublishedValue {
  id: string;
  source: { table: string; row: string; column?: string; via: string };
  /** `share`: basinShare[0] of the run with these params; `meanSquareNashGap`: mean of nashGap^2 over q. */
  quantity: 'share' | 'meanSquareNashGap';
  params: Record<string, number>;
  value: number;
  /** The kit experiments (one per reading) this value is compared with. */
  experiments: string[];
  /** |ours - paper| <= abs, or |ours - paper| <= rel |paper|. */
  tolerance: { abs?: number; rel?: number; why: string };
}

/** A stated result (a proposition, a counterexample, a rule of thumb) checked on a kit experiment. */
export interface PublishedClaim {
  id: string;
  source: { result: string; via: string };
  statement: string;
  check: 'shareEqualsQ' | 'outsideGrows' | 'qKRule';
  experiment: string;
  params?: Record<string, number>;
  tolerance: Record<string, number | string>;
}

export interface Published {
  paper: { title: string; authors: string[]; venue: string; arxiv?: string };
  transcription: string;
  notTranscribed: { table: string; what: string }[];
  values: PublishedValue[];
  claims: PublishedClaim[];
}

/** The parts of a run's summary (model contract 2) the report reads. */
export interface RunSummary {
  converged: boolean;
  convergedAt: number | null;
  final: { entropy: number; effectiveSupport: number; mass: number[]; outside: number };
  basinShare: (number | null)[];
  nashGap: number | null;
  collapsed: boolean;
  survivingBasins: number;
  outsideDecayRate: number | null;
  audit: null | {
    disjoint: boolean;
    initMass: number[];
    gapsExceed2eps: boolean[];
    inWindow: boolean;
    interval: [number, number];
    outsideDomination: number | null;
    largeK: boolean;
    applies: boolean;
    inInterval: boolean | null;
  };
}

export interface RunRecord {
  index: number;
  params: Record<string, unknown>;
  status: string;
  summary: RunSummary | null;
  contract: number | null;
  coreVersion: string | null;
  error: string | null;
}

/** One aggregate group of the service's stats endpoint (only what the report reads). */
export interface StatsGroupRecord {
  key: Record<string, unknown>;
  n: number;
  metrics: Record<string, { count: number; mean: number | null; meanSquare?: number | null }>;
}

export interface ExperimentResult {
  /** The spec's file name without extension: `table3-gaussian`. */
  id: string;
  file: string;
  name: string;
  /** The spec's description: the reading, in one line. */
  description: string;
  /** The spec's header comment (the paper's section, the reading, what was trimmed). */
  header: string;
  variables: string[];
  total: number;
  sweepId?: string;
  status: string;
  /** Runs served from earlier stored results (service only). */
  reused?: number;
  runs: RunRecord[];
  /** Stats of summary.nashGap grouped by every variable but q, from the service. */
  nashGapStats?: StatsGroupRecord[];
}

export interface KitResults {
  kit: 'curation-sweeps paper kit';
  mode: 'service' | 'in-process';
  api?: string;
  startedAt: string;
  finishedAt: string;
  wallSeconds: number;
  /** Configurations computed (in-process: distinct ones; service: runs executed, not reused). */
  computed?: number;
  experiments: ExperimentResult[];
}
