import type { CommandModule } from 'yargs';
import { mergeRuns } from '../../src/node/eval/merge.ts';

interface Args {
  dirs: string[];
  out: string;
  force: boolean;
}

export const mergeCommand: CommandModule<object, Args> = {
  command: 'merge <dirs..>',
  describe: 'Combine the shard folders of lrp eval --shard i/n into the report of the whole run (each shard verified: finished, intact, of the same run)',
  builder: (y) => y
    .positional('dirs', { type: 'string', array: true, demandOption: true, describe: 'the shard folders' })
    .option('out', { type: 'string', demandOption: true, describe: 'folder for the merged records and report: new or empty (never a shard)' })
    .option('force', { type: 'boolean', default: false, describe: 'write into a non-empty --out, replacing its merge files' }),
  handler: async (args) => {
    const r = await mergeRuns(args.dirs, args.out, { force: args.force });
    console.log(`${r.images} images, ${r.pairs} pairs, ${r.records} records, ${r.skipped.count} skipped; report in ${args.out}/report.md`);
  },
};
