/**
 * The `lrp` command line: every command, shared options and strict parsing (cli/options.ts).
 * `runCli` is what bin/lrp.js runs; tests call it in-process with `dryRun` to see how arguments
 * parse without running anything.
 */
import yargs, { type Argv, type MiddlewareFunction } from 'yargs';
import { versionLine } from '../src/node/version.ts';
import { demoCommand } from './commands/demo.ts';
import { evalCommand } from './commands/eval.ts';
import { explainCommand } from './commands/explain.ts';
import { inspectCommand } from './commands/inspect.ts';
import { mergeCommand } from './commands/merge.ts';
import { occlusionCommand } from './commands/occlusion.ts';
import { patternsCommand } from './commands/patterns.ts';
import { predictCommand } from './commands/predict.ts';
import { sanityCommand } from './commands/sanity.ts';
import { synthCommand } from './commands/synth.ts';
import { webCommand } from './commands/web.ts';
import { rejectPositionalFlags, rejectRepeatedOptions, rejectUnknownOptions, suggest, UsageError, type DefinedCommand } from './options.ts';

export const COMMANDS: readonly DefinedCommand[] = [
  inspectCommand, predictCommand, explainCommand, webCommand, synthCommand, evalCommand, mergeCommand, occlusionCommand, patternsCommand, demoCommand,
  sanityCommand,
] as unknown as DefinedCommand[];

export interface RunOptions {
  /** Parse and validate only: hand the command name and its arguments to this instead of running. */
  readonly dryRun?: (command: string, args: Record<string, unknown>) => void;
}

/** Exit status: 0 done, 1 failed (or finished with failures), 2 a usage error. */
export async function runCli(argv: readonly string[], opts: RunOptions = {}): Promise<number> {
  try {
    let y = yargs([...argv])
      .scriptName('lrp')
      .usage('$0 <command> [options]\n\nLayer-wise Relevance Propagation on WebGPU.');
    for (const c of COMMANDS) {
      const name = c.def.command.split(' ')[0];
      y = y.command(opts.dryRun ? { ...c, handler: (a: Record<string, unknown>) => opts.dryRun!(name, a) } : c);
    }
    await y
      // yargs passes the instance as a second argument its types leave out.
      .middleware(((a: Record<string, unknown>, inst: Argv) => {
        rejectUnknownOptions(a, inst);
        rejectRepeatedOptions(a, inst, argv);
        const def = COMMANDS.find((c) => c.def.command.split(' ')[0] === String((a._ as unknown[])[0]))?.def;
        rejectPositionalFlags((def?.positionals ?? []).map(([name]) => name), argv);
      }) as unknown as MiddlewareFunction, true)
      .demandCommand(1, 'name a command (see lrp --help)')
      .recommendCommands()
      .strict()
      .help()
      .alias('h', 'help')
      .version('version', 'print the version and commit', versionLine())
      .wrap(Math.min(110, process.stdout.columns || 100))
      .fail((msg, err) => {
        // Throwing stops yargs (returning would let it run the handler anyway).
        throw err ?? new UsageError(msg);
      })
      .parseAsync();
  } catch (e) {
    const err = e as Error;
    if (err instanceof UsageError) {
      console.error(`lrp: ${usageMessage(err.message, argv)}`);
      return 2;
    }
    console.error(`lrp: ${process.env.LRP_DEBUG ? err.stack : err.message}`);
    return 1;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

/** A usage error as one line: an unknown command gets a suggestion, yargs' own messages a pointer to --help. */
function usageMessage(message: string, argv: readonly string[]): string {
  const names = COMMANDS.map((c) => c.def.command.split(' ')[0]);
  const cmd = argv.find((a) => !a.startsWith('-'));
  if (cmd && !names.includes(cmd)) {
    const near = suggest(cmd, names);
    return `unknown command '${cmd}'${near ? ` (did you mean ${near}?)` : ''}; commands: ${names.join(', ')}`;
  }
  if (/--help/.test(message)) return message;
  return `${message} (\`lrp ${cmd ? `${cmd} ` : ''}--help\` lists the options)`;
}
