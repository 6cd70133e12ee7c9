// One configuration of a sweep, from its index to something we can store: rebuild it
// from the spec, validate and normalise it, hash it. Pure apart from the core calls.
import { estimateMemoryBytes, normalizedFields, validateConfig } from '@curation/core';
import { canonicalJson, sha256Hex } from './config-hash.ts';
import type { CompiledSweep } from './sweep-cache.ts';
import { oneLine } from './task.ts';

export type PreparedRun =
  | {
    index: number;
    ok: true;
    hash: string;
    /** The hashed text: canonical JSON of the normalised configuration, which is what gets simulated and stored. */
    configJson: string;
    /** The core's estimate, used to group cheap runs into one pool task. */
    costSeconds: number;
  }
  | { index: number; ok: false; error: string };

export function prepareRun(sweep: CompiledSweep, index: number, maxMemoryBytes = Infinity): PreparedRun {
  try {
    // An adaptive sweep's total grows stage by stage; any point of its lattice is valid.
    const size = sweep.refine ? sweep.refine.lattice.capacity : sweep.total;
    if (!Number.isInteger(index) || index < 0 || index >= size) {
      return { index, ok: false, error: `index ${index} is outside the sweep (0..${size - 1})` };
    }
    // The API already refused configurations over MAX_COST_SECONDS (the worker's limit
    // is the run timeout) and checked every reward's values; `simulate` checks those again.
    const v = validateConfig(sweep.configAt(index), { maxCostSeconds: Infinity, checkValues: false });
    if (!v.ok) return { index, ok: false, error: `invalid configuration: ${v.issues.map((i) => `${i.path || '/'}: ${i.message}`).join('; ')}` };
    // The API refused these at submission; an API set up with a larger limit must not take a worker down.
    const bytes = estimateMemoryBytes(v.config);
    if (bytes > maxMemoryBytes) {
      const mb = (b: number) => Math.ceil(b / 2 ** 20);
      return { index, ok: false, error: `too large for this worker: needs an estimated ${mb(bytes)} MB of memory, more than its ${mb(maxMemoryBytes)} MB (WORKER_MAX_RUN_MEMORY_MB)` };
    }
    // The hashed form is also what gets simulated and stored: a result row is then a
    // function of its (hash, core version) key, whichever sweep computed it first. The
    // text itself travels on (the pool thread parses it, the store sends it as it is),
    // and it is normalizeForHash's value as JSON, finite numbers only (canonicalJson
    // refuses any other).
    const configJson = canonicalJson(normalizedFields(v.config));
    return { index, ok: true, hash: sha256Hex(configJson), configJson, costSeconds: v.cost.seconds };
  } catch (err) {
    return { index, ok: false, error: oneLine(err) };
  }
}
