/**
 * The CLI parsed in-process (runCli with dryRun: the handler never runs, no GPU), and the shortest
 * line of every command, so that what a test adds to a line is what it tests.
 */
import { vi } from 'vitest';
import { runCli } from '../../cli/app.ts';

export interface Parsed {
  readonly code: number;
  /** The command whose handler would have run; null when parsing refused the line. */
  readonly command: string | null;
  readonly ran: boolean;
  readonly args: Record<string, unknown>;
  readonly stderr: string;
}

export async function parseCli(argv: readonly string[]): Promise<Parsed> {
  const errors: string[] = [];
  const spy = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
    errors.push(a.map(String).join(' '));
  });
  let command: string | null = null;
  let args: Record<string, unknown> = {};
  try {
    const code = await runCli([...argv], { dryRun: (c, a) => { command = c; args = a; } });
    return { code, command, ran: command !== null, args, stderr: errors.join('\n') };
  } finally {
    spy.mockRestore();
  }
}

/** The minimal arguments each command needs. */
export const BASE_LINES: Readonly<Record<string, readonly string[]>> = {
  inspect: ['inspect', '--model', 'm.onnx'],
  predict: ['predict', '--model', 'm.onnx', '--input', 'a.jpg'],
  explain: ['explain', '--model', 'm.onnx', '--input', 'a.jpg'],
  eval: ['eval', '--model', 'm.onnx', '--dataset', 'voc:d'],
  occlusion: ['occlusion', '--model', 'm.onnx', '--dataset', 'voc:d'],
  merge: ['merge', 'a', 'b', '--out', 'c'],
  synth: ['synth', '--out', 'd'],
  patterns: ['patterns', '--model', 'm.onnx', '--input', 's.npy', '--out', 'p'],
  demo: ['demo'],
  web: ['web'],
  sanity: ['sanity', '--model', 'm.onnx', '--input', 'a.jpg'],
};
