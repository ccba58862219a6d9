import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { inspectCommand } from './commands/inspect.ts';
import { predictCommand } from './commands/predict.ts';
import { explainCommand } from './commands/explain.ts';

const argv = hideBin(process.argv);

try {
  await yargs(argv)
    .scriptName('lrp')
    .usage('$0 <command> [options]\n\nLayer-wise Relevance Propagation on WebGPU.')
    .command(inspectCommand)
    .command(predictCommand)
    .command(explainCommand)
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
