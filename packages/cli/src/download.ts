// Streaming a response body to a file or stdout, chunk by chunk (an export of 100,000
// runs is never held in memory). A file is written as FILE.part and renamed when the
// body is complete, so an interrupted download never leaves a truncated FILE behind.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ApiUnreachableError } from './api-client.ts';

export interface Downloaded { bytes: number; file?: string }

/** Writes `res`'s body to `file` (or stdout when undefined); returns the byte count. */
export async function saveBody(res: Response, file: string | undefined, base: string): Promise<Downloaded> {
  if (!res.body) throw new Error('the API sent no body');
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  const source = Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
  const broken = (err: unknown) => {
    // The connection dropped mid-body: the API went away.
    const e = err as { code?: string; cause?: { code?: string }; message?: string };
    return new ApiUnreachableError(base, `the download broke off after ${bytes} bytes (${e.cause?.code ?? e.code ?? e.message})`);
  };
  if (file === undefined) {
    try {
      await pipeline(source, count, process.stdout, { end: false });
    } catch (err) {
      // A reader that stops early (`| head`) is not a failure.
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') return { bytes };
      throw broken(err);
    }
    return { bytes };
  }
  const part = `${file}.part`;
  try {
    await pipeline(source, count, createWriteStream(part));
  } catch (err) {
    await rm(part, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code && ['ENOENT', 'EACCES', 'EISDIR', 'EROFS', 'ENOSPC'].includes(code)) {
      throw new Error(`cannot write ${file}: ${code}`);
    }
    throw broken(err);
  }
  await rename(part, file);
  return { bytes, file };
}
