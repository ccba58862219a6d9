import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { demoCommand } from './commands/demo.ts';
import { inspectCommand } from './commands/inspect.ts';
import { predictCommand } from './commands/predict.ts';
import { explainCommand } from './commands/explain.ts';
import { webCommand } from './commands/web.ts';
import { synthCommand } from './commands/synth.ts';
import { evalCommand } from './commands/eval.ts';
import { mergeCommand } from './commands/merge.ts';
import { occlusionCommand } from './commands/occlusion.ts';
import { patternsCommand } from './commands/patterns.ts';

const argv = hideBin(process.argv);

try {
  await yargs(argv)
    .scriptName('lrp')
    .usage('$0 <command> [options]\n\nLayer-wise Relevance Propagation on WebGPU.')
    .command(inspectCommand)
    .command(predictCommand)
    .command(explainCommand)
    .command(webCommand)
    .command(synthCommand)
    .command(evalCommand)
    .command(mergeCommand)
    .command(occlusionCommand)
    .command(patternsCommand)
    .command(demoCommand)
    .demandCommand(1, 'name a command (see --help)')
    .strict()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err, y) => {
      if (err) throw err;
      console.error(`${y.help()}\n\nlrp: ${msg}`);
      process.exit(2);
    })
    .parseAsync();
} catch (e) {
  const err = e as Error;
  console.error(`lrp: ${process.env.LRP_DEBUG ? err.stack : err.message}`);
  process.exitCode = 1;
}
