// Soak: three teams submit sweeps concurrently (K = inf, finite K, sampled mode), two
// keep running at a time per team, for SOAK_SECONDS (default 120), on one API process
// and two workers, loopback only. Meanwhile every team polls the API (list, status,
// stats) and probes another team's sweep. At the end: every sweep finished, counts add
// up to totals, no run duplicated or lost, no team saw another's sweep, no 5xx.
import { describe, expect, it } from 'vitest';
import {
  call, linspace, makeTeam, recordFault, sleep, spawnApi, spawnWorker, storageReport, submit,
  useSharedServices, waitFinished, type Reply,
} from './support.ts';

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS || 120);
const PER_TEAM_IN_FLIGHT = 2;

/** Small sweeps (~1-3 s of compute each), three kinds in turn. */
function specFor(team: number, n: number) {
  const name = `soak-t${team}-${n}`;
  const rewards = [{ kind: 'quadratic', center: 0 }, { kind: 'quadratic', center: 0 }];
  const derive = { 'rewards.0.center': '[-D/2]', 'rewards.1.center': '[D/2]' };
  // Distinct per team and sweep, so results are computed, not only linked; bounded so
  // that q stays below 1 however many sweeps a long soak submits.
  const shift = team * 0.01 + (n % 150) * 0.001;
  const qs = linspace(0.2 + shift, 0.8 + shift, 3);
  switch (n % 3) {
    case 0: return { name, tags: ['soak', `t${team}`], base: { support: { kind: 'grid', min: -8, max: 8, n: 1001 }, rewards, K: 'inf', iterations: 20_000, recordEvery: 1000 }, axes: [{ param: 'q', values: qs }, { param: 'D', values: [2, 4, 6, 8] }], derive };
    case 1: return { name, tags: ['soak', `t${team}`], base: { support: { kind: 'grid', min: -8, max: 8, n: 201 }, rewards, iterations: 400, recordEvery: 50 }, axes: [{ param: 'q', values: qs }, { param: 'D', values: [2, 5] }, { param: 'K', values: [2, 8] }], derive };
    default: return { name, tags: ['soak', `t${team}`], base: { support: { kind: 'grid', min: -8, max: 8, n: 201 }, rewards, mode: 'sampled', K: 4, samples: 2000, iterations: 200, recordEvery: 20 }, axes: [{ param: 'q', values: qs }, { param: 'D', values: [3] }, { param: 'seed', replicates: 3 }], derive };
  }
}

describe('soak: several teams, several sweeps at once, for a bounded time', () => {
  const fx = useSharedServices(4);

  it(`runs for ${SOAK_SECONDS} s: every sweep finished, counts right, nothing lost or duplicated, no 5xx, no leak between teams`, async () => {
    const t0 = Date.now();
    const api = await spawnApi(fx.group, fx.target, { LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '0' });
    const teams = await Promise.all([0, 1, 2].map((t) => makeTeam(fx.pool, `soak-${t}-${fx.target.prefix}`)));
    await Promise.all([spawnWorker(fx.group, fx.target), spawnWorker(fx.group, fx.target)]);

    const sweeps: { team: number; id: string; total: number }[] = [];
    const owned = teams.map(() => new Set<string>());
    const statuses: Record<string, number> = {};
    const fiveXX: string[] = [];
    const leaks: string[] = [];
    let requests = 0;
    const note = (what: string, r: Reply) => {
      requests++;
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.status >= 500) fiveXX.push(`${what}: ${r.status} ${r.text.slice(0, 300)}`);
    };
    const end = t0 + SOAK_SECONDS * 1000;

    // Submitters: keep PER_TEAM_IN_FLIGHT sweeps running per team until the time is up.
    const submitter = async (t: number) => {
      let n = 0;
      const active = new Set<string>();
      while (Date.now() < end) {
        for (const id of [...active]) {
          const r = await call(api.url, 'GET', `/v1/sweeps/${id}`, teams[t].key);
          note('status', r);
          if (r.status === 200 && ['succeeded', 'failed', 'cancelled'].includes(r.body.status)) active.delete(id);
        }
        while (active.size < PER_TEAM_IN_FLIGHT && Date.now() < end) {
          const s = await submit(api.url, teams[t].key, specFor(t, n++));
          requests++;
          sweeps.push({ team: t, id: s.id, total: s.total });
          owned[t].add(s.id);
          active.add(s.id);
        }
        await sleep(300);
      }
    };
    // Pollers: list, status, stats as each team; another team's sweep must be a 404.
    const poller = async (t: number) => {
      while (Date.now() < end) {
        const list = await call(api.url, 'GET', '/v1/sweeps?limit=100', teams[t].key);
        note('list', list);
        for (const s of list.body?.items ?? []) if (!owned[t].has(s.id) && sweeps.some((x) => x.id === s.id)) leaks.push(`team ${t} listed ${s.id}`);
        const mine = [...owned[t]];
        if (mine.length) {
          const id = mine[Math.floor(Math.random() * mine.length)];
          note('stats', await call(api.url, 'GET', `/v1/sweeps/${id}/stats`, teams[t].key));
          note('runs', await call(api.url, 'GET', `/v1/sweeps/${id}/runs?limit=20`, teams[t].key));
        }
        const other = sweeps.filter((s) => s.team !== t);
        if (other.length) {
          const o = other[Math.floor(Math.random() * other.length)];
          const r = await call(api.url, 'GET', `/v1/sweeps/${o.id}`, teams[t].key);
          note('foreign', r);
          if (r.status !== 404) leaks.push(`team ${t} read team ${o.team}'s sweep ${o.id}: ${r.status}`);
        }
        await sleep(250);
      }
    };
    await Promise.all([0, 1, 2].flatMap((t) => [submitter(t), poller(t)]));

    // Drain: everything submitted must finish.
    const finals = await Promise.all(sweeps.map((s) => waitFinished(fx.pool, s.id, 120_000)));
    let lost = 0;
    let duplicated = 0;
    let runs = 0;
    const problems: string[] = [];
    for (const [k, s] of sweeps.entries()) {
      const rep = await storageReport(fx.pool, s.id, s.total);
      lost += rep.lost.length;
      duplicated += rep.duplicated.length;
      runs += rep.rows;
      if (finals[k] !== 'succeeded' || rep.rows !== s.total || rep.stray.length || rep.badLinks.length) {
        problems.push(`${s.id}: ${finals[k]} ${JSON.stringify(rep.byStatus)} rows ${rep.rows}/${s.total}`);
      }
      const v = await call(api.url, 'GET', `/v1/sweeps/${s.id}`, teams[s.team].key);
      note('final', v);
      const c = v.body?.counts ?? {};
      if (v.status !== 200 || c.succeeded !== s.total || c.queued + c.running + c.failed + c.cancelled !== 0) {
        problems.push(`${s.id}: API counts ${JSON.stringify(c)} for total ${s.total}`);
      }
    }
    const totalRuns = sweeps.reduce((a, s) => a + s.total, 0);
    recordFault('soak', {
      injected: 0, lost, duplicated, soakSeconds: SOAK_SECONDS, sweeps: sweeps.length,
      perTeam: [0, 1, 2].map((t) => sweeps.filter((s) => s.team === t).length), runs, totalRuns, requests,
      statuses, fiveXX: fiveXX.slice(0, 20), leaks: leaks.slice(0, 20), problems: problems.slice(0, 20),
      seconds: (Date.now() - t0) / 1000,
    });
    console.log(`soak: ${sweeps.length} sweeps, ${runs} runs, ${requests} requests in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

    expect(sweeps.length).toBeGreaterThanOrEqual(3 * PER_TEAM_IN_FLIGHT);
    expect(problems).toEqual([]);
    expect(runs).toBe(totalRuns);
    expect(lost).toBe(0);
    expect(duplicated).toBe(0);
    expect(fiveXX).toEqual([]);
    expect(leaks).toEqual([]);
    expect(fx.group.living('worker')).toHaveLength(2);
  }, (SOAK_SECONDS + 180) * 1000);
});
