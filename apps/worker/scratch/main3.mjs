import { Piscina } from 'piscina';
const p = new Piscina({ filename: new URL('./task.mjs', import.meta.url).href, maxThreads: 2, minThreads: 2 });
console.log(await Promise.all([p.run({ a: 1 }), p.run({ a: 2 })]), process.execArgv);
await p.destroy();
