// Public types of the curation core. Field names follow ../shared/spec/model.md
// (the contract); the CLI, the API and stored results all use them unchanged.

/** One configuration of a run, as a user writes it (section 1 of the contract). */
export type Vec = number | number[];

export type Support =
  | { kind: 'grid'; min: Vec; max: Vec; n: Vec }
  | { kind: 'points'; points: Vec[] }
  | { kind: 'atoms'; n: number };

export type Init =
  | { kind: 'uniform' }
  | { kind: 'gaussian'; mean: Vec; sd: number }
  | { kind: 'mixture'; components: { mean: Vec; sd: number; weight: number }[] }
  | { kind: 'table'; values: number[] };

export interface Clip { min?: number; max?: number }

export type Reward = (
  | { kind: 'quadratic'; center: Vec; scale?: number }
  | { kind: 'gaussian'; center: Vec; width: number; height?: number }
  | { kind: 'linear'; coef: Vec; bias?: number }
  | { kind: 'table'; values: number[] }
) & { clip?: Clip };

export interface RunConfig {
  support: Support;
  init?: Init;
  rewards: Reward[];
  weights?: number[];
  q?: number;
  K?: number | 'inf';
  beta?: number;
  realFraction?: number;
  iterations?: number;
  mode?: 'exact' | 'sampled';
  samples?: number;
  seed?: number;
  eps?: number;
  tol?: number;
  recordEvery?: number;
}

/** One problem with a configuration: a JSON pointer (RFC 6901, "" = the root) and the reason. */
export interface ConfigIssue { path: string; message: string }

/** Metrics of one recorded generation (section 4). */
export interface MetricsRow {
  t: number;
  entropy: number;
  effectiveSupport: number;
  mass: number[];
  outside: number;
  meanReward: number[];
  varReward: number[];
  step: number | null;
}

export interface Audit {
  disjoint: boolean;
  initMass: number[];
  crossGap: number[];
  leakage: number[];
  inWindow: boolean;
  interval: [number, number];
  inInterval: boolean;
}

export interface Summary {
  converged: boolean;
  convergedAt: number | null;
  final: MetricsRow;
  basinShare: (number | null)[];
  nashGap: number | null;
  collapsed: boolean;
  survivingBasins: number;
  audit: Audit | null;
}

/** Output of one run (section 7). */
export interface RunOutput {
  trajectory: MetricsRow[];
  summary: Summary;
  distribution?: number[];
  generator: string | null;
}

export interface SimulateOptions {
  /** Include p_T as `distribution`. */
  includeDistribution?: boolean;
  /**
   * Polled at every generation boundary; when it returns true the run stops by
   * throwing SimulationCancelled. Lets a worker honour a cancel without killing a thread.
   */
  shouldStop?: () => boolean;
}
