// Reading a sweep specification as text, to send it to the API as it was written (YAML
// stays YAML, so the API's line and column numbers match the user's file). The syntax
// is checked here first so a typo is reported without a round trip.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { InputError } from './read-config.ts';

export interface SpecText { text: string; format: 'json' | 'yaml'; name: string }

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `source` is a path or "-" for stdin; .yaml/.yml files are YAML, other files JSON; stdin is JSON when it starts with "{". */
export async function readSpecText(source: string): Promise<SpecText> {
  const name = source === '-' ? 'stdin' : source;
  let text: string;
  try {
    text = source === '-' ? await readStdin() : await readFile(source, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new InputError(`cannot read ${name}: ${reason}`);
  }
  if (text.trim() === '') throw new InputError(`${name} is empty`);
  const format = source === '-' ? (text.trimStart().startsWith('{') ? 'json' : 'yaml') : /\.ya?ml$/i.test(source) ? 'yaml' : 'json';
  try {
    if (format === 'yaml') parseYaml(text);
    else JSON.parse(text);
  } catch (err) {
    const firstLine = (err as Error).message.split('\n')[0];
    throw new InputError(`${name} is not valid ${format.toUpperCase()}: ${firstLine}`);
  }
  return { text, format, name };
}
