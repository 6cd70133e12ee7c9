// @curation/sweep-spec: sweep specifications (schema, axis expansion, derive expressions). Pure, no I/O.

export { SweepSpecSchema, AxisSchema, CONFIG_FIELDS, type SweepSpec } from './schema.ts';
export { SpecError, type SpecIssue } from './errors.ts';
export { parseSpecText, measureSpec, SpecTooLargeError, DEFAULT_SIZE_LIMITS, type SpecSizeLimits, type SpecOversize } from './text.ts';
export { compileSweep, type CompiledSweep, type ParamsLayout } from './compile.ts';
export {
  validateSweep, sampleIndexes, DEFAULT_LIMITS, FULL_VALIDATION_MAX, MAX_REPORTED_ISSUES, SAMPLE_SPREAD, type SweepLimits, type ValidateSweepResult,
} from './validate.ts';
export { specVariables } from './variables.ts';
export { closestName, didYouMean, editDistance } from './suggest.ts';
export * from './refine.ts';
export * from './refine-lattice.ts';
export * from './refine-boundary.ts';
