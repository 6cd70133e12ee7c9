// Reading a configuration from a file or stdin, as JSON or YAML.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';

export class InputError extends Error {}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `source` is a path or "-" for stdin. Files ending in .yaml/.yml are YAML, other
 * files JSON; stdin is JSON when it starts with "{" and YAML otherwise.
 */
export async function readConfig(source: string): Promise<unknown> {
  let text: string;
  const name = source === '-' ? 'stdin' : source;
  try {
    text = source === '-' ? await readStdin() : await readFile(source, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new InputError(`cannot read ${name}: ${reason}`);
  }
  const yaml = source === '-' ? !text.trimStart().startsWith('{') : /\.ya?ml$/i.test(source);
  try {
    return yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    const firstLine = (err as Error).message.split('\n')[0];
    throw new InputError(`${name} is not valid ${yaml ? 'YAML' : 'JSON'}: ${firstLine}`);
  }
}
