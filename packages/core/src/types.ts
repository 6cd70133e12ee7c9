// Public types of the curation core. Field names follow the model contract
// (docs/model.md); the CLI, the API and stored results all use them unchanged.

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
  | { kind: 'abs'; center: Vec; scale?: number }
  | { kind: 'gaussian'; center: Vec; width: number; height?: number }
  | { kind: 'linear'; coef: Vec; bias?: number }
  | { kind: 'table'; values: number[] }
) & { clip?: Clip; /** This reward's inverse temperature (> 0), replacing the run's beta. */ beta?: number };

/** The model family refitted every generation (contract 2.2). */
export type Model =
  | { kind: 'exact' }
  | { kind: 'kernel'; bandwidth: number }
  | { kind: 'gaussian'; minSd?: number }
  | { kind: 'mixture'; components: number; emSteps?: number; minSd?: number };

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
  model?: Model;
  retrain?: 'replace' | 'accumulate';
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
  /** Total variation between p_t and p_{t-1}; null at t = 0. */
  step: number | null;
  /** max |M_t - M_{t-1}| over the macro state (basin masses, outside); null at t = 0. */
  shareStep: number | null;
}

/** Theorem 3.7 read on the final distribution: every entry null when a basin holds no mass. */
export interface NashAudit {
  /** [[u_1(P_1), u_1(P_2)], [u_2(P_1), u_2(P_2)]]. */
  utilities: [[number | null, number | null], [number | null, number | null]];
  premise: boolean | null;
  gains: [number | null, number | null];
}

/** The paper's assumptions, Lemma 3.5 and Theorems 3.6 / 3.7 for m = 2 (selection units where an exponent is involved). */
export interface Audit {
  disjoint: boolean;
  initMass: [number, number];
  crossGap: [number, number];
  gapsExceed2eps: [boolean, boolean];
  outsideGap: number | null;
  /** kappa_i; null when the exponential overflows (counts as >= 1). */
  leakage: [number | null, number | null];
  inWindow: boolean;
  interval: [number, number];
  intervalB5: [number, number];
  intervalCorrected: [number, number];
  outsideDomination: number | null;
  largeK: boolean;
  applies: boolean;
  inInterval: boolean | null;
  inIntervalB5: boolean | null;
  inIntervalCorrected: boolean | null;
  varianceBound: [number | null, number | null];
  varianceSlack: [number | null, number | null];
  nash: NashAudit;
}

export interface Summary {
  converged: boolean;
  convergedAt: number | null;
  final: MetricsRow;
  basinShare: (number | null)[];
  nashGap: number | null;
  collapsed: boolean;
  survivingBasins: number;
  outsideDecayRate: number | null;
  audit: Audit | null;
}

/** The configuration as run (section 7): every default filled in, ready to be fed back. */
export type ConfigAsRun = Record<string, unknown>;

/** Output of one run (section 7). */
export interface RunOutput {
  contract: 2;
  coreVersion: string;
  config: ConfigAsRun;
  trajectory: MetricsRow[];
  summary: Summary;
  distribution?: number[];
  /** n lists of d coordinates; null for an atoms support. Present only with `distribution`. */
  coordinates?: number[][] | null;
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
  | { kind: 'abs'; center: number[]; scale: number }
  | { kind: 'gaussian'; center: number[]; width: number; height: number }
  | { kind: 'linear'; coef: number[]; bias: number }
  | { kind: 'table'; values: number[] }
) & { clip?: Clip; /** Resolved: the reward's own beta, else the run's. */ beta: number };

export type NormalizedModel =
  | { kind: 'exact' }
  | { kind: 'kernel'; bandwidth: number }
  | { kind: 'gaussian'; minSd: number }
  | { kind: 'mixture'; components: number; emSteps: number; minSd: number };

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
  model: NormalizedModel;
  retrain: 'replace' | 'accumulate';
  /** Dimension of the support (0 for atoms). */
  d: number;
  /** Number of atoms. */
  n: number;
  /** Number of rewards. */
  m: number;
}
