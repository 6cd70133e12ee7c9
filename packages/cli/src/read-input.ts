// Reading a configuration or a sweep specification from a file or stdin, as JSON or
// YAML. The text is kept as written (so `submit` can send YAML as YAML and the API's
// line and column numbers match the user's file) next to the parsed value.
import { readFile } from 'node:fs/promises';

export class InputError extends Error {}

/**
 * The parser's message, whole: the yaml library ends its first line with "at line L,
 * column C:" and follows it with the lines around the error and a caret under the
 * column. Those lines are kept, indented under the first (so the caret still points at
 * the column), blank ones dropped.
 */
export function syntaxMessage(message: string): string {
  const [first, ...context] = message.replace(/\s+$/, '').split('\n');
  const shown = context.filter((l) => l.trim() !== '').map((l) => `    ${l}`);
  return [first, ...shown].join('\n');
}

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
    // yaml is loaded only for YAML input: JSON configurations start faster without it.
    const value = format === 'yaml' ? (await import('yaml')).parse(text) : JSON.parse(text);
    return { text, format, name, value };
  } catch (err) {
    throw new InputError(`${name} is not valid ${format.toUpperCase()}: ${syntaxMessage((err as Error).message)}`);
  }
}
