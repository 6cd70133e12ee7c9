// What the sweep page knows of a sweep's quantities, from GET /v1/sweeps/:id/fields: its
// variables (axis variables, then derived parameters) and every summary field with its
// label. The names are the same strings as stats metrics, plot values and CSV columns.
import { apiJson } from './api.js';

/**
 * What the parts of the sweep page share.
 * @typedef {object} SweepView
 * @property {string} id the sweep's id
 * @property {any} sweep the last GET /v1/sweeps/:id reply (null before the first)
 * @property {string[] | null} variables axis variables, then derived parameters (null until read)
 * @property {string[]} axisVariables the spec's axis variables: the phase diagram's axes
 * @property {[string, string][]} metrics [name, label] of every summary field of the sweep
 * @property {string | null} selectedRunId the run whose trajectory is shown
 * @property {number} runsShown rows of the runs table
 * @property {number} statsShown groups of the statistics table
 */

// The value choices when the fields cannot be read. Normally the server lists every field
// of the sweep with its label: labels that name the reward (index 0 is reward 1).
/** @type {[string, string][]} */
export const FALLBACK_METRICS = [
  ['summary.basinShare.0', 'basin share (reward 1)'],
  ['summary.basinShare.1', 'basin share (reward 2)'],
  ['summary.nashGap', 'Nash gap'],
  ['summary.converged', 'converged'],
  ['summary.convergedAt', 'converged at (generation)'],
  ['summary.collapsed', 'collapsed'],
  ['summary.survivingBasins', 'surviving basins'],
  ['summary.outsideDecayRate', 'outside mass decay rate'],
  ['summary.final.outside', 'final mass outside every basin'],
  ['summary.final.entropy', 'final entropy'],
  ['summary.audit.applies', 'audit: lemma applies'],
  ['summary.audit.inInterval', 'audit: reward 1 share in Lemma 3.5 interval'],
  ['summary.audit.inIntervalB5', 'audit: reward 1 share in B.5 interval'],
  ['summary.audit.inIntervalCorrected', 'audit: reward 1 share in corrected interval'],
  ['summary.audit.outsideDomination', 'audit: outside domination (B.4)'],
];

/**
 * Reads the sweep's variables and fields into `view`; false when the API did not answer
 * (the caller tries again on its next poll).
 * @param {SweepView} view
 */
export async function loadFields(view) {
  let f;
  try {
    f = await apiJson(`/v1/sweeps/${encodeURIComponent(view.id)}/fields`);
  } catch {
    return false;
  }
  view.variables = Array.isArray(f.variables) ? f.variables : [];
  view.axisVariables = Array.isArray(f.axisVariables) ? f.axisVariables : view.variables;
  const list = (f.fields ?? []).filter((x) => x.kind !== 'variable').map((x) => /** @type {[string, string]} */ ([x.name, x.label]));
  if (list.length) view.metrics = list;
  return true;
}

/**
 * The label of a field name, for headers and captions.
 * @param {SweepView} view
 * @param {string} name
 */
export const labelOf = (view, name) => view.metrics.find(([n]) => n === name)?.[1] ?? name;
