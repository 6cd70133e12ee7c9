// Which stepper runs a configuration, and the general pipeline of contract 2
// (curation, accumulation, real data, Fit) for everything the specialised
// exact-replace kernels do not cover.
import type { NormalizedConfig } from './types.ts';
import type { Basins, MetricsRecorder } from './metrics.ts';
import { FiniteKStepper, InfiniteKStepper, type Stepper } from './dynamics-exact.ts';
import { SampledStepper } from './dynamics-sampled.ts';

/**
 * The stepper for a validated configuration. `s` are the scaled rewards beta_i r_i,
 * `basins` the run's basins (for the macro state); a K = inf exact run also fills
 * the recorder's sums in its update pass.
 */
export function createStepper(c: NormalizedConfig, p0: Float64Array, s: Float64Array[], basins: Basins, recorder?: MetricsRecorder): Stepper {
  const track = { basins, weights: c.weights };
  if (c.mode === 'sampled') return new SampledStepper(p0, s, c.weights, c.realFraction, c.K as number, c.samples, c.seed, track);
  if (c.K === 'inf') {
    const inf = new InfiniteKStepper(p0, s, c.weights, c.realFraction, track);
    if (recorder) inf.fuseMetrics(recorder.fusedTargets());
    return inf;
  }
  return new FiniteKStepper(p0, s, c.weights, c.realFraction, c.K, track);
}
