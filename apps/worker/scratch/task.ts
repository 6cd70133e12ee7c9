import { threadId } from 'node:worker_threads';
const x: number = 1;
export default function (n: { a: number }): string { return `t${threadId}:${n.a + x}`; }
