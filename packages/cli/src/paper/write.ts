// Writing a report directory: report.md, the SVG figures it cites and results.json (the
// report's whole input besides published.json, so the report can be rebuilt from it).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Report } from './report.ts';
import type { KitResults } from './types.ts';

export function writeReportDir(dir: string, report: Report, results: KitResults): string[] {
  mkdirSync(dir, { recursive: true });
  const written = ['report.md', ...Object.keys(report.figures), 'results.json'];
  writeFileSync(join(dir, 'report.md'), report.markdown);
  for (const [name, svg] of Object.entries(report.figures)) writeFileSync(join(dir, name), svg);
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify(results)}\n`);
  return written.map((f) => join(dir, f));
}
