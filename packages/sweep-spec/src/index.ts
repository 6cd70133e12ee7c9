// @curation/sweep-spec: sweep specifications (schema, axis expansion, derive expressions). Pure, no I/O.

export { SweepSpecSchema, AxisSchema, CONFIG_FIELDS, type SweepSpec } from './schema.ts';
export { SpecError, type SpecIssue } from './errors.ts';
export { parseSpecText, measureSpec, SpecTooLargeError, DEFAULT_SIZE_LIMITS, type SpecSizeLimits, type SpecOversize } from './text.ts';
export { compileSweep, type CompiledSweep } from './compile.ts';
export { validateSweep, DEFAULT_LIMITS, MAX_REPORTED_ISSUES, type SweepLimits, type ValidateSweepResult } from './validate.ts';
export { specVariables } from './variables.ts';
export { closestName, didYouMean, editDistance } from './suggest.ts';
export * from './refine.ts';
export * from './refine-lattice.ts';
export * from './refine-boundary.ts';
