// Reading a configuration or a sweep specification from a file or stdin, as JSON or
// YAML. The text is kept as written (so `submit` can send YAML as YAML and the API's
// line and column numbers match the user's file) next to the parsed value.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';

export class InputError extends Error {}

export interface InputText { text: string; format: 'json' | 'yaml'; name: string; value: unknown }

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `source` is a path or "-" for stdin. Files ending in .yaml/.yml are YAML, other
 * files JSON; stdin is JSON when it starts with "{" and YAML otherwise.
 */
export async function readInput(source: string): Promise<InputText> {
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
    const value = format === 'yaml' ? parseYaml(text) : JSON.parse(text);
    return { text, format, name, value };
  } catch (err) {
    const firstLine = (err as Error).message.split('\n')[0];
    throw new InputError(`${name} is not valid ${format.toUpperCase()}: ${firstLine}`);
  }
}
