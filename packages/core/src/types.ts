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

/** Extra options of simulate() beyond SimulateOptions (kept separate so the shared type stays as agreed). */
export interface SimulateBudgetOptions {
  /** Cost budget in estimated CPU seconds; Infinity disables the check. Default DEFAULT_MAX_COST_SECONDS. */
  maxCostSeconds?: number;
}

/** A rough CPU-time estimate for one run, used to refuse jobs that are too expensive. */
export interface CostEstimate {
  seconds: number;
  /** n * m * T for exact mode, N * K * T for sampled mode: the unit the estimate scales with. */
  atomGenerations: number;
}

export type NormalizedSupport =
  | { kind: 'grid'; min: number[]; max: number[]; n: number[] }
  | { kind: 'points'; points: number[][] }
  | { kind: 'atoms'; n: number };

export type NormalizedInit =
  | { kind: 'uniform' }
  | { kind: 'gaussian'; mean: number[]; sd: number }
  | { kind: 'mixture'; components: { mean: number[]; sd: number; weight: number }[] }
  | { kind: 'table'; values: number[] };

export type NormalizedReward = (
  | { kind: 'quadratic'; center: number[]; scale: number }
  | { kind: 'gaussian'; center: number[]; width: number; height: number }
  | { kind: 'linear'; coef: number[]; bias: number }
  | { kind: 'table'; values: number[] }
) & { clip?: Clip };

/** A validated configuration with every default filled in (vectors as arrays, q turned into weights). */
export interface NormalizedConfig {
  support: NormalizedSupport;
  init: NormalizedInit;
  rewards: NormalizedReward[];
  /** Divided by their sum. */
  weights: number[];
  K: number | 'inf';
  beta: number;
  realFraction: number;
  iterations: number;
  mode: 'exact' | 'sampled';
  samples: number;
  seed: number;
  eps: number;
  tol: number;
  recordEvery: number;
  /** Dimension of the support (0 for atoms). */
  d: number;
  /** Number of atoms. */
  n: number;
  /** Number of rewards. */
  m: number;
}
