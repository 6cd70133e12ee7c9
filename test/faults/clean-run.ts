// The clean run of a sweep, for the fault tests: reads a sweep spec (JSON) on stdin and
// prints, for every index, the core's own result of configAt(i) (summary through JSON,
// like the stored copy; sha256 of the encoded trajectory, like the stored bytes).
import { createHash } from 'node:crypto';
import { simulate } from '@curation/core';
import { compileSweep } from '@curation/sweep-spec';
import { encodeTrajectory } from '@curation/db/trajectory-codec';

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const compiled = compileSweep(JSON.parse(input));
  const out = [];
  for (let i = 0; i < compiled.total; i++) {
    const r = simulate(compiled.configAt(i), { maxCostSeconds: Infinity });
    out.push({
      index: i,
      summary: JSON.parse(JSON.stringify(r.summary)),
      trajectorySha256: createHash('sha256').update(new Uint8Array(encodeTrajectory(r.trajectory))).digest('hex'),
      generator: r.generator ?? null,
    });
  }
  process.stdout.write(JSON.stringify(out));
});
